module RnnAd.FSharp.Tests.Cells.CellGradientTests

open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Tests

// Gradients of whole sequence models (every cell kind; 1 and 2 layers; uni- and bidirectional; batch 1 and
// 3; sequences of 1 and 50 steps) against centred finite differences over every parameter entry.
// Tolerance as for single ops (OpGradientTests): |AD − FD| ≤ 1e-6·max(|AD|, |FD|) + 1e-8. The losses are
// means of cross-entropies of order 1, so FD rounding error ≈ 2e-10 stays far below the absolute floor.

let private kinds = [ CellKind.RnnTanh; CellKind.RnnRelu; CellKind.Lstm; CellKind.Gru ]

/// A small many-to-many model over one-hot tokens, or many-to-one over features when `perStep` is false.
let private spec kind layers bidirectional perStep : ModelSpec =
    { Cell = Cells.ofKind kind
      Input = if perStep then InputEncoding.OneHot 4 else InputEncoding.Features 3
      HiddenSize = 3
      Layers = layers
      Bidirectional = bidirectional
      Dropout = 0.0
      Head = if perStep then HeadKind.PerStep else HeadKind.LastStep
      HeadHidden = []
      Outputs = 4; Loss = Loss.crossEntropy }

let private batchFor (spec: ModelSpec) (seed: int) (batch: int) (time: int) : Minibatch =
    let rng = System.Random(seed)
    let input =
        match spec.Input with
        | InputEncoding.Features f -> SequenceInput.Features(Check.uniform seed -1.0 1.0 [| batch; time; f |])
        | _ -> SequenceInput.Tokens(Array.init (batch * time) (fun _ -> rng.Next 4))
    let targets = Array.init (if spec.Head = HeadKind.PerStep then batch * time else batch) (fun _ -> rng.Next spec.Outputs)
    { Input = input; Batch = batch; Time = time; Mask = None; Targets = Targets.Classes(targets) }

/// AD gradient vs finite differences for every entry of every parameter.
let checkAgainstFiniteDifferences (spec: ModelSpec) (ps: NamedTensors) (options: RunOptions) (batch: Minibatch) =
    let loss (p: NamedTensors) = fst (SequenceModel.loss spec p options batch)
    let grads = Ad.Named.grad loss ps
    for i, (name, _) in Array.indexed ps.Entries do
        let fd = Check.finiteDifference (fun ts -> (loss (NamedTensors(Array.map2 (fun n t -> n, t) ps.Names ts))).ToScalar()) ps.Tensors i
        Check.close name 1e-6 1e-8 fd (grads.[name].ToArray())

[<Tests>]
let tests =
    testList "Cells/gradients vs finite differences" [
        for kind in kinds do
            for layers in [ 1; 2 ] do
                for bidirectional in [ false; true ] do
                    for batch, time in [ 1, 1; 3, 5 ] do
                        for perStep in [ true; false ] do
                            let s = spec kind layers bidirectional perStep
                            test (sprintf "%s layers %d bidirectional %b batch %d time %d %s" kind.Name layers bidirectional batch time (if perStep then "per step" else "last step")) {
                                let ps = SequenceModel.init s (layers * 10 + time)
                                checkAgainstFiniteDifferences s ps RunOptions.Default (batchFor s 7 batch time)
                            }
            test (sprintf "%s over 50 steps, batch 3" kind.Name) {
                let s = spec kind 1 false true
                checkAgainstFiniteDifferences s (SequenceModel.init s 50) RunOptions.Default (batchFor s 8 3 50)
            }
            test (sprintf "%s with an embedding, an MLP head and padding" kind.Name) {
                let s = { spec kind 2 true false with Input = InputEncoding.Embedding(5, 2); HeadHidden = [ 3 ] }
                let b = { batchFor s 9 2 4 with Input = SequenceInput.Tokens [| 1; 4; 0; 2; 3; 3; 0; 0 |]; Mask = Some [| 1.; 1.; 1.; 1.; 1.; 1.; 0.; 0. |] }
                checkAgainstFiniteDifferences s (SequenceModel.init s 3) RunOptions.Default b
            }
    ]
