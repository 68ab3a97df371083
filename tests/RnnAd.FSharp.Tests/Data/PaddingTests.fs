module RnnAd.FSharp.Tests.Data.PaddingTests

open RnnAd
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Data
open RnnAd.FSharp.Tests

// Padding must change neither the loss nor the final state: a sequence inside a padded batch gives the same
// logits, final states (every layer and direction) and loss as the same sequence run alone, unpadded.
//
// Logits and states are compared exactly: on a masked step the model selects the previous state
// (Tensor.Where), an exact copy, and every kernel computes a batch row from that row alone, so any difference
// at all means padding leaked into the result. Losses that average several terms are compared with a relative
// tolerance of 1e-15: the batch sums the same positive terms in another order than the reference, which moves
// the result by at most (n − 1)·ε ≈ 2.2e-16 per extra term (n ≤ 3 here), plus one rounding of the division.

let private kinds = [ CellKind.RnnTanh; CellKind.RnnRelu; CellKind.Lstm; CellKind.Gru ]

/// Sequences of lengths 5, 1 and 3 over ids 1…5 (0 is the padding id), with their labels.
let private examples =
    [| { Tokens = [| 1; 2; 3; 4; 5 |]; Label = 1 }
       { Tokens = [| 2 |]; Label = 0 }
       { Tokens = [| 5; 4; 3 |]; Label = 1 } |]

let private spec kind bidirectional head : ModelSpec =
    { Cell = Cells.ofKind kind
      Input = InputEncoding.Embedding(6, 3)
      HiddenSize = 4
      Layers = 2
      Bidirectional = bidirectional
      Dropout = 0.0
      Head = head
      HeadHidden = []
      Outputs = 3; Loss = Loss.crossEntropy }

/// Per-step targets of a sequence, (id + 1) mod 3, for the PerStep head.
let private stepTargets (ids: int[]) = ids |> Array.map (fun id -> (id + 1) % 3)

/// The sequence alone, no padding and no mask.
let private alone (head: HeadKind) (e: ClassificationExample) : Minibatch =
    { Input = SequenceInput.Tokens e.Tokens
      Batch = 1
      Time = e.Tokens.Length
      Mask = None
      Targets = Targets.Classes(if head = HeadKind.PerStep then stepTargets e.Tokens else [| e.Label |]) }

/// The padded batch of all examples; for the PerStep head, padded steps get target 0 (masked out).
let private padded (head: HeadKind) : Minibatch =
    let b = Batching.classification 0 examples
    match head with
    | HeadKind.LastStep -> b
    | HeadKind.PerStep ->
        let targets =
            examples |> Array.collect (fun e -> Array.append (stepTargets e.Tokens) (Array.zeroCreate (b.Time - e.Tokens.Length)))
        { b with Targets = Targets.Classes(targets) }

/// Row `i` of a padded batch as a batch of one, still padded to the batch's time.
let private row (b: Minibatch) (i: int) : Minibatch =
    let ids = match b.Input with SequenceInput.Tokens ids -> ids | SequenceInput.Features _ -> failwith "token ids expected"
    let targets = Targets.classesOf b.Targets
    let per = targets.Length / b.Batch
    { Input = SequenceInput.Tokens ids.[i * b.Time .. (i + 1) * b.Time - 1]
      Batch = 1
      Time = b.Time
      Mask = b.Mask |> Option.map (fun m -> m.[i * b.Time .. (i + 1) * b.Time - 1])
      Targets = Targets.Classes(targets.[i * per .. (i + 1) * per - 1]) }

/// Rows of a (batch, …) tensor's values, `width` values each.
let private rowValues (t: Tensor) (i: int) (width: int) = (t.ToArray()).[i * width .. (i + 1) * width - 1]

let private checkPaddingIsInert (kind: CellKind) (bidirectional: bool) (head: HeadKind) =
    let s = spec kind bidirectional head
    let ps = SequenceModel.init s 11
    let batch = padded head
    let logits, finals = SequenceModel.forward s ps RunOptions.Default batch
    let hidden = s.HiddenSize
    for i, e in Array.indexed examples do
        let len = e.Tokens.Length
        let aloneLogits, aloneFinals = SequenceModel.forward s ps RunOptions.Default (alone head e)
        match head with
        | HeadKind.LastStep -> Expect.equal (rowValues logits i s.Outputs) (aloneLogits.ToArray()) (sprintf "logits of sequence %d" i)
        | HeadKind.PerStep ->
            let real = (rowValues logits i (batch.Time * s.Outputs)).[.. len * s.Outputs - 1]
            Expect.equal real (aloneLogits.ToArray()) (sprintf "logits at the real steps of sequence %d" i)
        for k in 0 .. finals.Length - 1 do
            Expect.equal (rowValues finals.[k].H i hidden) (aloneFinals.[k].H.ToArray()) (sprintf "final h %d of sequence %d" k i)
            match finals.[k].C, aloneFinals.[k].C with
            | Some c, Some c1 -> Expect.equal (rowValues c i hidden) (c1.ToArray()) (sprintf "final c %d of sequence %d" k i)
            | None, None -> ()
            | _ -> failtest "cell states differ in presence"
        let paddedLoss = (fst (SequenceModel.loss s ps RunOptions.Default (row batch i))).ToScalar()
        let aloneLoss = (fst (SequenceModel.loss s ps RunOptions.Default (alone head e))).ToScalar()
        match head with
        | HeadKind.LastStep -> Expect.equal paddedLoss aloneLoss (sprintf "loss of sequence %d padded to %d steps" i batch.Time)
        | HeadKind.PerStep -> Check.close (sprintf "loss of sequence %d padded to %d steps" i batch.Time) 1e-15 0.0 [| aloneLoss |] [| paddedLoss |]
    let batchLoss = (fst (SequenceModel.loss s ps RunOptions.Default batch)).ToScalar()
    let expected =
        match head with
        | HeadKind.LastStep ->
            // The mean over sequences of the per-sequence losses.
            (examples |> Array.sumBy (fun e -> (fst (SequenceModel.loss s ps RunOptions.Default (alone head e))).ToScalar())) / float examples.Length
        | HeadKind.PerStep ->
            // The mean over real steps: each sequence's mean loss weighted by its length.
            let steps = examples |> Array.sumBy (fun e -> e.Tokens.Length)
            (examples |> Array.sumBy (fun e -> float e.Tokens.Length * (fst (SequenceModel.loss s ps RunOptions.Default (alone head e))).ToScalar())) / float steps
    // PerStep: each per-sequence mean is multiplied back by its length, one more rounding per term: 1e-14.
    Check.close "loss of the padded batch" (if head = HeadKind.PerStep then 1e-14 else 1e-15) 0.0 [| expected |] [| batchLoss |]

[<Tests>]
let tests =
    testList "Data/padding changes neither loss nor final state" [
        for kind in kinds do
            for bidirectional in [ false; true ] do
                for head in [ HeadKind.LastStep; HeadKind.PerStep ] do
                    test (sprintf "%s bidirectional %b %A" kind.Name bidirectional head) { checkPaddingIsInert kind bidirectional head }
        test "the check has teeth: without the mask, padding changes the final state" {
            for bidirectional in [ false; true ] do
                let s = spec CellKind.Lstm bidirectional HeadKind.LastStep
                let ps = SequenceModel.init s 11
                let _, finals = SequenceModel.forward s ps RunOptions.Default { padded HeadKind.LastStep with Mask = None }
                let _, aloneFinals = SequenceModel.forward s ps RunOptions.Default (alone HeadKind.LastStep examples.[1])
                let k = if bidirectional then 3 else 1 // the top layer's last direction
                Expect.notEqual (rowValues finals.[k].H 1 s.HiddenSize) (aloneFinals.[k].H.ToArray()) "padding leaks without the mask"
        }
    ]
