module RnnAd.FSharp.Tests.Reference.BadInputTests

open RnnAd
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Reference
open RnnAd.FSharp.Tests

// Bad input gives an ArgumentException naming what is at fault, what was expected and what was given.

let private spec : ModelSpec =
    { Cell = Cells.lstm; Input = InputEncoding.OneHot 3; HiddenSize = 2; Layers = 2; Bidirectional = false
      Dropout = 0.5; Head = HeadKind.PerStep; HeadHidden = []; Outputs = 3; Loss = Loss.crossEntropy }

let private ps = SequenceModel.init spec 1
let private batch = { Input = SequenceInput.Tokens [| 0; 1; 2; 1 |]; Batch = 2; Time = 2; Mask = None; Targets = Targets.Classes [| 1; 2; 0; 0 |] }
let private without (name: string) (p: NamedTensors) = NamedTensors(p.Entries |> Array.filter (fun (n, _) -> n <> name))
let private replace (name: string) (t: Tensor) (p: NamedTensors) = p |> NamedTensors.map (fun n x -> if n = name then t else x)

[<Tests>]
let tests =
    testList "Reference/bad input" [
        test "dropout on is refused, not silently ignored" {
            Check.throwsWith [ "dropout"; "DropoutSeed is 7"; "Dropout 0.5" ] (fun () -> Bptt.run spec ps { RunOptions.Default with DropoutSeed = Some 7 } batch)
        }
        test "dropout off (no seed) runs even when the spec has a dropout rate" {
            let _, g = Bptt.lossAndGradients spec ps None batch
            Expect.equal g.Names ps.Names "gradients for every parameter"
        }
        test "a missing parameter is named" {
            Check.throwsWith [ "rnn.weight_hh_l1"; "missing" ] (fun () -> Bptt.lossAndGradients spec (without "rnn.weight_hh_l1" ps) None batch)
        }
        test "a parameter of the wrong shape is named with both shapes" {
            Check.throwsWith [ "fc.weight"; "(3, 3)"; "(3, 2)" ] (fun () -> Bptt.lossAndGradients spec (replace "fc.weight" (Tensor.Zeros [| 3; 3 |]) ps) None batch)
        }
        test "a batch that does not fit the model is named" {
            Check.throwsWith [ "token id 3"; "vocabulary" ] (fun () -> Bptt.lossAndGradients spec ps None { batch with Input = SequenceInput.Tokens [| 0; 1; 3; 1 |] })
            Check.throwsWith [ "3 targets"; "needs 4" ] (fun () -> Bptt.lossAndGradients spec ps None { batch with Targets = Targets.Classes [| 0; 1; 2 |] })
        }
        test "a non-positive truncation window is refused" {
            Check.throwsWith [ "DetachEvery"; "positive"; "0" ] (fun () -> Bptt.lossAndGradients spec ps (Some 0) batch)
        }
        test "probes are refused by the reference, which returns ∂L/∂h itself" {
            Check.throwsWith [ "probes"; "Hidden" ] (fun () -> Bptt.run spec ps { RunOptions.Default with Probes = Some [||] } batch)
            Check.throwsWith [ "probes" ] (fun () -> AdGradients.run spec ps { RunOptions.Default with Probes = Some [||] } batch)
        }
        test "initial states of the wrong count or shape are named" {
            let zero = CellState.Of(Tensor.Zeros [| 2; 2 |], Tensor.Zeros [| 2; 2 |])
            Check.throwsWith [ "1 initial states"; "has 2" ] (fun () -> Bptt.run spec ps { RunOptions.Default with Initial = Some [| zero |] } batch)
            Check.throwsWith [ "initial state 1"; "no cell state" ] (fun () -> Bptt.run spec ps { RunOptions.Default with Initial = Some [| zero; CellState.Of(Tensor.Zeros [| 2; 2 |]) |] } batch)
        }
        test "a mask without any real step is refused" {
            Check.throwsWith [ "sequence 0"; "all padding" ] (fun () -> Bptt.lossAndGradients spec ps None { batch with Mask = Some [| 0.0; 0.0; 0.0; 0.0 |] })
        }
        test "reports refuse gradients with different names or shapes, naming them" {
            let g = snd (Bptt.lossAndGradients spec ps None batch)
            Check.throwsWith [ "only in AD [fc.bias]"; "only in BPTT []" ] (fun () -> GradientReport.compare "AD" "BPTT" GradientTolerance.AdVsBptt g (without "fc.bias" g))
            Check.throwsWith [ "'fc.bias'"; "(3,)"; "(4,)" ] (fun () -> GradientReport.compare "AD" "BPTT" GradientTolerance.AdVsBptt g (replace "fc.bias" (Tensor.Zeros [| 4 |]) g))
            Check.throwsWith [ "Floor"; "positive" ] (fun () -> GradientReport.compare "AD" "BPTT" { Relative = 1e-10; Floor = 0.0 } g g)
        }
        test "finite differences cannot check truncated BPTT" {
            let noDropout = { spec with Dropout = 0.0 }
            Check.throwsWith [ "finite differences"; "DetachEvery 1 < time 2" ] (fun () ->
                GradCheck.run noDropout ps { GradCheckOptions.Default with DetachEvery = Some 1; FiniteDifferences = true } batch)
        }
        test "a probe name that collides with a parameter is refused" {
            Check.throwsWith [ "h_l0"; "reserved" ] (fun () -> AdGradients.run spec (NamedTensors(Array.append ps.Entries [| "h_l0", Tensor.Zeros [| 1 |] |])) RunOptions.Default batch)
        }
        test "a hidden-gradient name that GradientFlow cannot read is named" {
            Check.throwsWith [ "'x'"; "h_l<layer>" ] (fun () -> GradientFlow.ofHidden (NamedTensors [| "x", Tensor.Zeros [| 1; 1; 1 |] |]))
        }
    ]
