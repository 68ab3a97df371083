module RnnAd.FSharp.Tests.Reference.GradientFlowTests

open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Reference
open RnnAd.FSharp.Tests
open RnnAd.FSharp.Tests.Reference.Cases

// ‖∂L/∂h_t‖ over time from AD (probes) and from BPTT must agree to docs/ARCHITECTURE.md §7.2's 1e-10, with and without
// truncation; and a long tanh RNN with small recurrent weights must show seed 001's vanishing gradient.

let private flowLimits = { Input = 5; Hidden = 8; Time = 20; Batch = 3; Layers = 2 }

/// Entry-wise relative difference of two flows, purely relative (docs/ARCHITECTURE.md §7.2).
let private expectSameFlow (ad: GradientFlow[]) (bptt: GradientFlow[]) =
    Expect.equal (bptt |> Array.map (fun f -> f.Name, f.Layer, f.Direction)) (ad |> Array.map (fun f -> f.Name, f.Layer, f.Direction)) "the same layers and directions"
    for a, b in Array.zip ad bptt do
        Check.close a.Name 1e-10 0.0 a.Norms b.Norms

[<Tests>]
let tests =
    testList "Reference/gradient flow" [
        for i in 0 .. 15 do
            let case = random "gradient-flow" flowLimits i
            for k in [ None; Some 3 ] do
                test (sprintf "%s%s: AD and BPTT norms agree" case.Label (match k with Some k -> sprintf " truncated k = %d" k | None -> "")) {
                    let options = { RunOptions.Default with DetachEvery = k }
                    let ad = GradientFlow.ad case.Spec case.Params options case.Batch
                    let bptt = GradientFlow.bptt case.Spec case.Params options case.Batch
                    Expect.equal ad.Length (case.Spec.Layers * (if case.Spec.Bidirectional then 2 else 1)) "one flow per layer and direction"
                    Expect.isTrue (ad |> Array.forall (fun f -> f.Norms.Length = case.Batch.Time)) "one norm per time step"
                    expectSameFlow ad bptt
                }
        test "a long tanh RNN with small weights: the gradient vanishes backwards in time" {
            let s =
                { Cell = Cells.rnnTanh; Input = InputEncoding.OneHot 4; HiddenSize = 8; Layers = 1; Bidirectional = false
                  Dropout = 0.0; Head = HeadKind.LastStep; HeadHidden = []; Outputs = 4; Loss = Loss.crossEntropy }
            // Every W_hh entry in [−0.1, 0.1): ‖W_hh‖₂ ≤ ‖W_hh‖_F ≤ 0.1·8 = 0.8 and tanh' ≤ 1, so each step back
            // multiplies ‖∂L/∂h‖ by at most 0.8: strictly decreasing, by at least 0.8³⁹ ≈ 1.7e-4 over 40 steps.
            let ps = SequenceModel.init s 5 |> NamedTensors.map (fun name t -> if name = "rnn.weight_hh_l0" then Check.uniform 6 -0.1 0.1 t.Shape else t)
            let time = 40
            let rng = System.Random 9
            let b = { Input = SequenceInput.Tokens(Array.init (2 * time) (fun _ -> rng.Next 4)); Batch = 2; Time = time; Mask = None; Targets = Targets.Classes [| 1; 3 |] }
            let bptt = (GradientFlow.bptt s ps RunOptions.Default b).[0].Norms
            let ad = (GradientFlow.ad s ps RunOptions.Default b).[0].Norms
            Check.close "h_l0" 1e-10 0.0 ad bptt
            for t in 0 .. time - 2 do
                Expect.isLessThan bptt.[t] (0.8 * bptt.[t + 1]) (sprintf "‖∂L/∂h_%d‖ < 0.8·‖∂L/∂h_%d‖" t (t + 1))
            Expect.isLessThan (bptt.[0] / bptt.[time - 1]) 1.7e-4 "vanished over 40 steps"
            printfn "Reference: vanishing gradient, ‖∂L/∂h_0‖ / ‖∂L/∂h_39‖ = %.3e" (bptt.[0] / bptt.[time - 1])
        }
        test "truncation cuts the flow: with k = 1 and a last-step head only the last step sees a gradient" {
            let s =
                { Cell = Cells.gru; Input = InputEncoding.Features 2; HiddenSize = 3; Layers = 1; Bidirectional = false
                  Dropout = 0.0; Head = HeadKind.LastStep; HeadHidden = []; Outputs = 2; Loss = Loss.crossEntropy }
            let b = { Input = SequenceInput.Features(Check.uniform 3 -1.0 1.0 [| 2; 6; 2 |]); Batch = 2; Time = 6; Mask = None; Targets = Targets.Classes [| 0; 1 |] }
            for flow in [ GradientFlow.bptt; GradientFlow.ad ] do
                let norms = (flow s (SequenceModel.init s 1) { RunOptions.Default with DetachEvery = Some 1 } b).[0].Norms
                Expect.equal norms.[0..4] (Array.zeroCreate 5) "no gradient crosses a detached state"
                Expect.isGreaterThan norms.[5] 0.0 "the head's gradient reaches the last state"
        }
        test "format prints one line per step and one column per layer and direction" {
            let text = GradientFlow.format [| { Name = "h_l0"; Layer = 0; Direction = 0; Norms = [| 1.0; 0.5 |] }; { Name = "h_l0_reverse"; Layer = 0; Direction = 1; Norms = [| 0.25; 2.0 |] } |]
            let lines = text.Split('\n', System.StringSplitOptions.RemoveEmptyEntries) |> Array.map (fun l -> l.TrimEnd '\r')
            Expect.equal lines.Length 3 "a header and two steps"
            Expect.stringContains lines.[0] "h_l0_reverse" "column names"
            Expect.stringContains lines.[1] "1.000000e+00" "norm at t = 0"
            Expect.stringContains lines.[2] "2.000000e+00" "norm at t = 1"
            Expect.equal (lines |> Array.map (fun l -> l.Length) |> Array.distinct).Length 1 "aligned columns"
        }
    ]
