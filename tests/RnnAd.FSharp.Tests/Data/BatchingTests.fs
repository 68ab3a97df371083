module RnnAd.FSharp.Tests.Data.BatchingTests

open Expecto
open MathNet.Numerics.Random
open RnnAd.FSharp
open RnnAd.FSharp.Data
open RnnAd.FSharp.Storage
open RnnAd.FSharp.Tests

let private reviews =
    [| { Tokens = [| 3; 4; 5 |]; Label = 1 }
       { Tokens = [| 6 |]; Label = 0 }
       { Tokens = [| 7; 8 |]; Label = 1 } |]

let private tokensOf (batch: Minibatch) =
    match batch.Input with
    | SequenceInput.Tokens ids -> ids
    | SequenceInput.Features _ -> failtest "expected token ids"

/// Ten examples whose label is their index, so a batch's targets say which examples it holds.
let private numbered = Array.init 10 (fun i -> { Tokens = Array.create (1 + i % 3) (i + 1); Label = i })

[<Tests>]
let tests =
    testList "Data/batching" [
        test "classification: right-padded to the longest, mask 1 on real steps, labels as targets" {
            let b = Batching.classification 0 reviews
            Expect.equal (b.Batch, b.Time) (3, 3) "batch × time"
            Expect.equal (tokensOf b) [| 3; 4; 5; 6; 0; 0; 7; 8; 0 |] "ids"
            Expect.equal b.Mask (Some [| 1.; 1.; 1.; 1.; 0.; 0.; 1.; 1.; 0. |]) "mask"
            Expect.equal b.Targets (Targets.Classes [| 1; 0; 1 |]) "targets"
        }
        test "classification pads with the given id and keeps a full mask without padding" {
            Expect.equal (tokensOf (Batching.classification 9 reviews)) [| 3; 4; 5; 6; 9; 9; 7; 8; 9 |] "ids"
            Expect.equal (Batching.classification 0 [| reviews.[0] |]).Mask (Some [| 1.; 1.; 1. |]) "mask"
        }
        test "classification rejects empty sequences, no examples and a negative padding id" {
            Check.throwsWith [ "example 1"; "empty sequence" ] (fun () -> Batching.classification 0 [| reviews.[0]; { Tokens = [||]; Label = 0 } |])
            Check.throwsWith [ "at least one example" ] (fun () -> Batching.classification 0 [||])
            Check.throwsWith [ "padding id"; "got -1" ] (fun () -> Batching.classification -1 reviews)
        }
        test "language model: inputs and next tokens row-major, no mask" {
            let b = Batching.languageModel [| { Input = [| 1; 2 |]; Next = [| 2; 3 |] }; { Input = [| 4; 5 |]; Next = [| 5; 6 |] } |]
            Expect.equal (b.Batch, b.Time) (2, 2) "batch × time"
            Expect.equal (tokensOf b) [| 1; 2; 4; 5 |] "ids"
            Expect.equal b.Targets (Targets.Classes [| 2; 3; 5; 6 |]) "targets"
            Expect.equal b.Mask None "mask"
        }
        test "language model rejects unequal lengths, mismatched targets and empty sequences" {
            Check.throwsWith [ "example 1"; "length 3"; "example 0 has 2" ] (fun () ->
                Batching.languageModel [| { Input = [| 1; 2 |]; Next = [| 2; 3 |] }; { Input = [| 1; 2; 3 |]; Next = [| 2; 3; 4 |] } |])
            Check.throwsWith [ "example 0"; "2 inputs but 1 next" ] (fun () -> Batching.languageModel [| { Input = [| 1; 2 |]; Next = [| 2 |] } |])
            Check.throwsWith [ "example 0"; "empty" ] (fun () -> Batching.languageModel [| { Input = [||]; Next = [||] } |])
        }
        test "chunks: groups in order, the last one smaller" {
            Expect.equal (Batching.chunks 3 [| 0 .. 6 |]) [| [| 0; 1; 2 |]; [| 3; 4; 5 |]; [| 6 |] |] "chunks"
            Check.throwsWith [ "batch size"; "got 0" ] (fun () -> Batching.chunks 0 [| 1 |])
        }
        test "shuffle is the documented Fisher–Yates over Xoshiro256** seeded by Seed.deriveIndexed" {
            // Recomputed here from the documented recipe, so an undocumented change of order fails.
            let rng = Xoshiro256StarStar(Seed.deriveIndexed 42 "shuffle" 3L, false)
            let expected = [| 0 .. 19 |]
            for i in 19 .. -1 .. 1 do
                let j = rng.Next(i + 1)
                let t = expected.[i]
                expected.[i] <- expected.[j]
                expected.[j] <- t
            Expect.equal (Batching.shuffle 42 3 [| 0 .. 19 |]) expected "order"
        }
        test "shuffle: a permutation, the same for the same seed and epoch, different across epochs and seeds" {
            let items = [| 0 .. 19 |]
            let order = Batching.shuffle 7 0 items
            Expect.equal (Array.sort order) items "a permutation"
            Expect.equal items [| 0 .. 19 |] "the input is not modified"
            Expect.equal (Batching.shuffle 7 0 items) order "same seed and epoch"
            // 20! orders: two independent shuffles agree with probability 4e-19.
            Expect.notEqual (Batching.shuffle 7 1 items) order "another epoch"
            Expect.notEqual (Batching.shuffle 8 0 items) order "another seed"
        }
        test "an epoch's batches: every example once, sizes 4 4 2, same bits for the same seed and epoch" {
            let batches = Batching.epoch 5 2 4 (Batching.classification 0) numbered
            Expect.equal (batches |> Array.map (fun b -> b.Batch)) [| 4; 4; 2 |] "batch sizes"
            let labels = batches |> Array.collect (fun b -> Targets.classesOf b.Targets)
            Expect.equal (Array.sort labels) [| 0 .. 9 |] "every example once"
            Expect.equal labels (Batching.shuffle 5 2 numbered |> Array.map (fun e -> e.Label)) "in the epoch's shuffled order"
            for b in batches do
                // Example i holds 1 + i % 3 copies of i + 1: the batch's ids and mask follow from its labels.
                let time = Targets.classesOf b.Targets |> Array.map (fun i -> 1 + i % 3) |> Array.max
                let expectedIds = Targets.classesOf b.Targets |> Array.collect (fun i -> Array.init time (fun t -> if t < 1 + i % 3 then i + 1 else 0))
                Expect.equal (tokensOf b) expectedIds "ids padded per example"
            let again = Batching.epoch 5 2 4 (Batching.classification 0) numbered
            Expect.equal again batches "same seed and epoch"
            let other = Batching.epoch 5 3 4 (Batching.classification 0) numbered
            Expect.notEqual (other |> Array.collect (fun b -> Targets.classesOf b.Targets)) labels "another epoch"
        }
        test "inOrder keeps the examples' order" {
            let batches = Batching.inOrder 4 (Batching.classification 0) numbered
            Expect.equal (batches |> Array.map (fun b -> Targets.classesOf b.Targets)) [| [| 0; 1; 2; 3 |]; [| 4; 5; 6; 7 |]; [| 8; 9 |] |] "targets"
        }
    ]
