module RnnAd.FSharp.Tests.Reference.BiasFreeTests

open System
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Reference
open RnnAd.FSharp.Tests

// The hand-derived BPTT covers the bias-free cells (PyTorch's bias=False): AD against it to 1e-10 relative
// (GradientTolerance.AdVsBpttFloored), through layers, both directions, padding and truncation, and both
// against centred finite differences to 1e-6 (GradientTolerance.FiniteDifferences) where nothing is truncated. And it
// differentiates exactly the model's parameters: no bias_* gradients, the tensors do not exist.

let private kinds = [ CellKind.RnnTanh; CellKind.RnnRelu; CellKind.Lstm; CellKind.Gru ]

let private spec (kind: CellKind) (layers: int) (bidirectional: bool) (head: HeadKind) : ModelSpec =
    { Cell = Cells.withoutBias kind; Input = InputEncoding.Features 3; HiddenSize = 4; Layers = layers; Bidirectional = bidirectional
      Dropout = 0.0; Head = head; HeadHidden = []; Outputs = 3; Loss = Loss.crossEntropy }

/// Three sequences of 6 steps: one whole, one padded at the end, one padded at the start and in the middle.
let private batch (seed: int) (head: HeadKind) : Minibatch =
    let rng = Random seed
    { Input = SequenceInput.Features(Check.uniform seed -1.0 1.0 [| 3; 6; 3 |])
      Batch = 3
      Time = 6
      Mask = Some [| 1.; 1.; 1.; 1.; 1.; 1.
                     1.; 1.; 1.; 1.; 0.; 0.
                     0.; 1.; 1.; 0.; 1.; 1. |]
      Targets = Targets.Classes(Array.init (if head = HeadKind.PerStep then 18 else 3) (fun _ -> rng.Next 3)) }

[<Tests>]
let tests =
    testList "Reference/bias-free cells" [
        for kind in kinds do
            test (sprintf "%s without biases: AD, the hand-derived BPTT and finite differences agree, for exactly the model's parameters" kind.Name) {
                for layers, bidirectional, head, detach in [ 1, false, HeadKind.PerStep, None; 2, true, HeadKind.LastStep, None; 2, true, HeadKind.PerStep, Some 4 ] do
                    let s = spec kind layers bidirectional head
                    // 2× PyTorch's initial range: gates away from their linear middle
                    let ps = SequenceModel.init s (layers * 10 + kind.Gates) |> NamedTensors.map (fun _ t -> t * 2.0)
                    // finite differences see the full gradient, so they check the untruncated runs only
                    let r = GradCheck.run s ps { GradCheckOptions.Default with FiniteDifferences = detach.IsNone; DetachEvery = detach } (batch (layers + 7) head)
                    Expect.isTrue r.Passed (sprintf "layers %d, bidirectional %b, %A, truncation %A:\n%s" layers bidirectional head detach (r.ToText()))
                    let names = (SequenceModel.model s).Parameters |> Array.map fst
                    Expect.equal r.Bptt.Parameters.Names names "the reference's gradient names the model's parameters, no more"
                    Expect.isFalse (names |> Array.exists (fun n -> n.Contains "bias_ih" || n.Contains "bias_hh")) "and they have no recurrent biases"
            }
        test "with biases and without, the same weights give the same loss when the biases are zero" {
            // The reference reads the biases only where the cell has them.
            for kind in kinds do
                let free = spec kind 2 true HeadKind.PerStep
                let biased = { free with Cell = Cells.ofKind kind }
                let ps = SequenceModel.init free 3
                let withZeros = NamedTensors((SequenceModel.model biased).Parameters |> Array.map (fun (n, shape) -> n, defaultArg (ps.TryFind n) (RnnAd.Tensor.Zeros shape)))
                let b = batch 5 HeadKind.PerStep
                let lossFree = (Bptt.run free ps RunOptions.Default b).Loss
                let lossBiased = (Bptt.run biased withZeros RunOptions.Default b).Loss
                Expect.equal lossFree lossBiased (sprintf "%s: x·W + 0 is x·W" kind.Name)
        }
    ]
