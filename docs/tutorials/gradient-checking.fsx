(**
---
title: Gradient checking
category: Tutorials
categoryindex: 1
index: 3
---
*)
(*** hide ***)
#r "../../examples/RnnAd.Cli/bin/Release/net10.0/MathNet.Numerics.dll"
#r "../../examples/RnnAd.Cli/bin/Release/net10.0/RnnAd.FSharp.dll"
(**
# Gradient checking

A gradient that is slightly wrong still trains — slowly, or to a worse model — so a wrong gradient rarely
announces itself. RnnAd therefore computes every gradient of its built-in models in three independent ways
and compares them:

1. **reverse-mode AD**, the engine that training uses;
2. **hand-derived backpropagation through time (BPTT)**: the backward equations of each cell written out by
   hand on MathNet matrices, without the AD engine (`RnnAd.FSharp.Reference`);
3. **centred finite differences**: (L(θ + h) − L(θ − h)) / 2h for every parameter entry, which needs no
   derivative at all.

This page runs the three on a model, explains the tolerances each comparison uses and why, and catches a
deliberately wrong derivative. Everything below ran when this page was built.

## Three gradients of one model

A two-layer bidirectional LSTM with 3 hidden units reads one-hot letters (4 classes) and predicts a letter at
every step, on a batch of 2 sequences of 6 steps. `GradCheck.run` computes the loss and the gradient by AD
and by BPTT, and with `FiniteDifferences = true` also by finite differences, and compares them entry by entry.
*)
open RnnAd
open RnnAd.FSharp
open RnnAd.FSharp.Reference

let spec =
    { Cell = Cells.lstm; Input = InputEncoding.OneHot 4; HiddenSize = 3; Layers = 2; Bidirectional = true; Dropout = 0.0
      Head = HeadKind.PerStep; HeadHidden = []; Outputs = 4; Loss = Loss.crossEntropy }
let batch, time = 2, 6
let data =
    { Input = SequenceInput.Tokens(Array.init (batch * time) (fun i -> (i * 7 + 3) % 4))
      Batch = batch; Time = time; Mask = None
      Targets = Targets.Classes(Array.init (batch * time) (fun i -> (i * 5 + 1) % 4)) }
let parameters = SequenceModel.init spec 1

let check = GradCheck.run spec parameters { GradCheckOptions.Default with FiniteDifferences = true } data
printfn "loss: AD %s, BPTT %s" (check.Ad.Loss.ToString "R") (check.Bptt.Loss.ToString "R")
printfn "%s" (check.Parameters.ToTable())
for report in check.FiniteDifferences do printfn "%s" (report.ToTable())
printfn "gradient check %s" (if check.Passed then "PASSED" else "FAILED")
(*** include-output ***)
(*** hide ***)
if not check.Passed then failwith "the gradient check of the LSTM failed"
(**
Each table gives, per parameter tensor, the largest absolute and relative differences and where they occur,
and the two values at the worst entry. Read the "worst" on each verdict line: AD and BPTT agree to about
1e-14 — they compute the same algebra, in a different order — while finite differences agree with either to
about 1e-8. The report also compares ∂L/∂hₜ for every layer and direction, and gives the gradient flow
(`check.Hidden`, `check.BpttFlow`).

## The tolerances, and why they differ

An entry passes when |a − b| / max(|a|, |b|, floor) ≤ tolerance.

| comparison | tolerance | floor |
|---|---|---|
| AD against BPTT | 1e-10 | 1e-5 |
| either against finite differences | 1e-6 | 1e-2 |

**Finite differences are only as good as their step.** A centred difference with step h has a truncation
error of order h²·L‴ (the Taylor terms it drops) and a rounding error of order ε·|L|/h (two nearly equal
losses subtracted, ε ≈ 1.1e-16 in float64). The first shrinks with h, the second grows, so the error has a
floor. Here is the finite difference of one entry against the AD value, for steps from 1e-1 to 1e-12:
*)
let name, entry = "rnn.weight_hh_l0", 4
let exact = check.Ad.Parameters.[name].ToArray().[entry]
let lossAt (shift: float) =
    let moved =
        parameters |> NamedTensors.map (fun n t ->
            if n <> name then t
            else let v = t.ToArray() in v.[entry] <- v.[entry] + shift; Tensor.OfArray(t.Shape, v))
    (fst (SequenceModel.loss spec moved RunOptions.Default data)).ToScalar()

let sci (x: float) = x.ToString("0.0e+00", System.Globalization.CultureInfo.InvariantCulture)
printfn "∂L/∂%s[%d] by AD: %s" name entry (exact.ToString "R")
printfn "%8s  %24s  %10s" "step h" "finite difference" "|FD - AD|"
let errors =
    [ for k in 1 .. 12 ->
        let h = 10.0 ** float -k
        let fd = (lossAt h - lossAt -h) / (2.0 * h)
        printfn "%8s  %24s  %10s" (sci h) (fd.ToString "R") (sci (abs (fd - exact)))
        h, abs (fd - exact) ]
(*** include-output ***)
(*** hide ***)
let best = errors |> List.minBy snd |> fst
if best < 1e-8 || best > 1e-3 then failwithf "the best finite-difference step is %g, outside [1e-8, 1e-3]" best
(**
The error falls as h² (a hundred times per decade) down to h ≈ 1e-4 and then rises again as rounding takes over. RnnAd steps by
1e-6·max(1, |θ|), near that balance; even there a finite difference carries an error around 1e-10·|L|, so an
entry much smaller than 1e-4 cannot be checked to 1e-6 relative. The floor of 1e-2 turns the test into an
absolute one (|a − b| ≤ 1e-8) for such entries. Finite differences also mislead where the function has a kink
(relu, max, clamp) between θ − h and θ + h, and in float32, where ε is 1e-7 instead of 1e-16.

**AD and BPTT compute the same quantity in the same precision**, so they can be held far tighter: 1e-10
relative. But not purely relative. An entry that is tiny *because large terms cancel* carries the rounding
noise of those terms, which is tiny in absolute terms and large relative to the entry. A saturated softmax
is the classic case: when the model gives the right class a probability of 1 − 2e-12, the gradient of the
cross-entropy with respect to that logit is p − 1 ≈ −2e-12, computed from a p that is only known to ±1e-16.
Make the output layer's bias favour class 0 overwhelmingly and ask for class 0 everywhere:
*)
let saturated = parameters |> NamedTensors.map (fun n t -> if n = "fc.bias" then Tensor.OfArray [| 28.0; 0.0; 0.0; 0.0 |] else t)
let allZero = { data with Targets = Targets.Classes(Array.zeroCreate (batch * time)) }

let purelyRelative = GradCheck.run spec saturated { GradCheckOptions.Default with Tolerance = GradientTolerance.AdVsBptt } allZero
let floored = GradCheck.run spec saturated GradCheckOptions.Default allZero
let worstAbsolute = purelyRelative.Parameters.Rows |> Array.map (fun r -> r.MaxAbsoluteError) |> Array.max
printfn "purely relative (floor 1e-300): %s, worst relative error %s" (if purelyRelative.Parameters.Passed then "PASS" else "FAIL") (sci purelyRelative.Parameters.MaxRelativeError)
printfn "with the floor 1e-5:            %s, worst relative error %s" (if floored.Parameters.Passed then "PASS" else "FAIL") (sci floored.Parameters.MaxRelativeError)
printfn "largest |AD - BPTT| over every entry: %s" (sci worstAbsolute)
let fcBias = purelyRelative.Parameters.Rows |> Array.find (fun r -> r.Name = "fc.bias")
printfn "fc.bias at %A: AD %s, BPTT %s" fcBias.MaxRelativeIndex (fcBias.Left.ToString "R") (fcBias.Right.ToString "R")
(*** include-output ***)
(*** hide ***)
if purelyRelative.Parameters.Passed || not floored.Parameters.Passed || worstAbsolute > 1e-15 then
    failwith "the saturated softmax no longer shows the rounding noise the floor is for"
(**
Every entry agrees to better than 1e-15 in absolute terms, yet relative to these tiny entries the two sides
differ by far more than 1e-10: no bound on the relative error alone passes both correct implementations here. Over random models such entries make a purely
relative 1e-10 fail on about 0.5% of them. The floor of 1e-5 judges entries below it by their absolute error
(≤ 1e-15) instead, and everything above it purely relatively. Its price: an error confined to entries smaller
than 1e-5 — a deeply vanished gradient — goes unseen, which is why the randomized tests also scale the
weights to reach the non-linear regime.

## A wrong derivative, caught

The checks are worth something only if they fail when a derivative is wrong. Define tanh as an op of one's own
(`CustomOp.define`: a value kernel, a forward rule and a reverse rule), once with its true derivative
1 − tanh²(x), and once with a plausible slip, 1 − tanh(x). Each goes into an Elman RNN cell written as a
`Cell` value, and the model is checked against finite differences (the hand-derived BPTT only knows the
built-in cells).
*)
open RnnAd.FSharp.Storage

let tanhWith (label: string) (derivative: Tensor -> Tensor) : Tensor -> Tensor =
    let op =
        CustomOp.define label
            (fun xs -> Elementwise.tanh xs.[0])
            (fun _ y dxs -> dxs.[0] * derivative y)
            (fun _ y g -> [| g * derivative y |])
    fun x -> op [| x |]

let rnnCellWith (activation: Tensor -> Tensor) =
    Cell.create "RNN with a custom tanh" (CellParams.layout 1) 1 (fun p state x ->
        CellState.Of(Rnn.step activation (CellParams.ofNamed p) state.H x))

let checkWith (activation: Tensor -> Tensor) =
    let customSpec = { spec with Cell = rnnCellWith activation; Layers = 1; Bidirectional = false }
    let model = SequenceModel.model customSpec
    snd (GradCheck.againstFiniteDifferences model (SequenceModel.init customSpec 1) GradientTolerance.FiniteDifferences data)

let right = checkWith (tanhWith "tanh" (fun y -> 1.0 - y * y))
let wrong = checkWith (tanhWith "tanh with a wrong derivative" (fun y -> 1.0 - y))
printfn "derivative 1 - tanh²: %s" (right.ToTable())
printfn "derivative 1 - tanh:  %s" (wrong.ToTable())
(*** include-output ***)
(*** hide ***)
if not right.Passed then failwith "the correct custom tanh failed its check"
if wrong.Passed then failwith "the wrong derivative went unnoticed"
if wrong.FailedRows |> Array.exists (fun r -> r.Name.StartsWith "fc.") then failwith "the head's gradient was blamed for the cell's error"
if wrong.Rows |> Array.exists (fun r -> r.Name.StartsWith "rnn." && r.Passed) then failwith "a tensor of the recurrent layer passed with the wrong derivative"
(**
The wrong derivative is caught in every tensor of the recurrent layer, and only there: the head (`fc.*`) sits
after the activation and its gradient is still right, so the report also says where to look. The same
comparison is one call in C# (`GradientCheck.Compare`) and on the command line (`rnnad gradcheck`).

## Where next

- [AD on a cell](ad-on-a-cell.html): the derivatives checked here, computed in every mode.
- The types used here: `GradientCheck`, `GradientReport`, `GradientTolerance` in the
  [API reference](../reference/rnnad-fsharp-reference.html); the conventions behind the tolerances in the
  [architecture](../ARCHITECTURE.html), §7.
*)
