module RnnAd.FSharp.Tests.Data.SplitsTests

open Expecto
open RnnAd.FSharp.Data
open RnnAd.FSharp.Tests

[<Tests>]
let tests =
    testList "Data/splits" [
        test "a chronological split keeps the order and drops the gap between the parts" {
            let train, validation = Splits.chronological 0.7 2 [| 0 .. 9 |]
            Expect.equal train [| 0 .. 6 |] "the first 70 %"
            Expect.equal validation [| 9 |] "after a gap of two"
        }
        test "a random split is the seed's choice, the same on every call, each part in order, all items used once" {
            let items = [| 0 .. 99 |]
            let train, validation = Splits.random 7 0.8 items
            Expect.equal (train.Length, validation.Length) (80, 20) "sizes"
            Expect.equal (Array.sort (Array.append train validation)) items "every item once"
            Expect.equal train (Array.sort train) "training part in order"
            Expect.equal validation (Array.sort validation) "validation part in order"
            Expect.equal (Splits.random 7 0.8 items) (train, validation) "same seed, same split"
            Expect.notEqual (snd (Splits.random 8 0.8 items)) validation "another seed, another split (20 of 100: the chance of the same is 2e-21)"
            Expect.notEqual validation [| 80 .. 99 |] "not the chronological cut"
        }
        test "a split that would leave a part empty is refused with the counts" {
            Check.throwsWith [ "3 examples"; "each needs at least one" ] (fun () -> Splits.chronological 0.9 0 [| 1; 2; 3 |])
            Check.throwsWith [ "(0, 1)" ] (fun () -> Splits.random 1 1.0 [| 1; 2; 3 |])
            Check.throwsWith [ "gap" ] (fun () -> Splits.chronological 0.5 -1 [| 1; 2; 3 |])
        }
    ]
