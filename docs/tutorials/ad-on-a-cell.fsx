(**
---
title: AD on a cell
category: Tutorials
categoryindex: 1
index: 2
---
*)
(*** hide ***)
#r "../../examples/RnnAd.Cli/bin/Release/net10.0/MathNet.Numerics.dll"
#r "../../examples/RnnAd.Cli/bin/Release/net10.0/RnnAd.FSharp.dll"
(**
# AD on a cell

RnnAd's automatic differentiation (AD) is a set of functions: give one a function and a point, and it gives
back derivatives. This page differentiates a loss through a GRU run over a sequence in each way the engine
offers — the gradient (reverse mode), a directional derivative (forward mode), a Hessian-vector product
(forward over reverse) — checks each against an independent computation, and then measures how much of the
gradient reaches each time step, the quantity behind "vanishing gradients".

Everything below ran when this page was built.

## A loss through a cell

A batch of 4 sequences of 12 steps, 3 features each, goes through a GRU with 6 hidden units; the loss is the
mean squared distance between the final state and a fixed target. The parameters are `NamedTensors`, an
ordered map from PyTorch's names to tensors, and the loss is an ordinary F# function of them.
*)
open RnnAd
open RnnAd.FSharp

let batch, time, inputSize, hidden = 4, 12, 3, 6
let xs = Tensor.RandomNormal(1, [| batch; time; inputSize |])
let target = Tensor.RandomUniform(2, [| batch; hidden |], -0.5, 0.5)
let parameters = Cell.init Cells.gru inputSize hidden 3

let loss (p: NamedTensors) : Tensor =
    let _, final = Sequence.run Cells.gru p (Cell.zeroState Cells.gru batch hidden) SequenceOptions.Default xs
    let d = final.H - target
    (d * d).Mean()

let sci (x: float) = x.ToString("0.000e+00", System.Globalization.CultureInfo.InvariantCulture)
printfn "L(θ) = %s over %d parameters" (sci ((loss parameters).ToScalar())) parameters.NumelTotal
(*** include-output ***)
(**
## The gradient: reverse mode

`Ad.Named.valueAndGrad` runs the loss once while recording every operation, the *trace*, then sweeps the
trace backwards, from the loss to the parameters, accumulating ∂L/∂θ for every parameter at once. One forward
and one backward pass give every partial derivative, however many parameters there are: that is why reverse
mode is the way to train.
*)
let value, gradient = Ad.Named.valueAndGrad loss parameters
for name, g in gradient.Entries do
    printfn "∂L/∂%-9s shape (%s), first entries %s" name (String.concat ", " (Array.map string g.Shape))
        (g.ToArray() |> Array.truncate 3 |> Array.map sci |> String.concat " ")
(*** include-output ***)
(**
## A directional derivative: forward mode

Forward mode pushes a *tangent* through the computation alongside each value: `Ad.Named.jvp f θ v` returns
f(θ) and the derivative of f along the direction v, J·v, in one forward pass. For a loss (one number) that
is the directional derivative ⟨∇L, v⟩, so it must equal the dot product of the gradient above with v —
two different algorithms, one number.
*)
let direction = parameters |> NamedTensors.map (fun name t -> Tensor.RandomNormal(Storage.Seed.derive 10 name, t.Shape))
let _, alongV = Ad.Named.jvp loss parameters direction
let dot = NamedTensors.dot gradient direction
printfn "forward mode  J·v      = %s" (alongV.ToScalar().ToString "R")
printfn "reverse mode ⟨∇L, v⟩   = %s" (dot.ToString "R")
printfn "relative difference    = %s" (sci (abs (alongV.ToScalar() - dot) / abs dot))
(*** include-output ***)
(*** hide ***)
if abs (alongV.ToScalar() - dot) > 1e-12 * abs dot then failwith "forward and reverse mode disagree"
(**
Forward mode costs one pass per direction, so it is the cheap way to get a few directional derivatives, and
reverse mode the cheap way to get a whole gradient.

## Second derivatives: a Hessian-vector product

`Ad.Named.hvp f θ v` is H·v, the Hessian of the loss times a direction, computed by running forward mode over
reverse mode: the tangent, along v, of the gradient. The engine tags every differentiation with its own level,
so the inner (reverse) and outer (forward) derivatives never mix up — the "perturbation confusion" that breaks
naive nested AD. Two checks: H·v against a centred finite difference of two gradients,
(∇L(θ + εv) − ∇L(θ − εv)) / 2ε, and the symmetry of the Hessian, ⟨u, H·v⟩ = ⟨H·u, v⟩.
*)
let hv = Ad.Named.hvp loss parameters direction
let epsilon = 1e-5
let shifted (s: float) = NamedTensors.map2 (fun _ p v -> p + s * epsilon * v) parameters direction
let differenced = NamedTensors.map2 (fun _ a b -> (a - b) / (2.0 * epsilon)) (Ad.Named.grad loss (shifted 1.0)) (Ad.Named.grad loss (shifted -1.0))
let hvNorm = sqrt (NamedTensors.dot hv hv)
let gap = NamedTensors.map2 (fun _ a b -> a - b) hv differenced
printfn "‖H·v‖ = %s; ‖H·v - finite difference‖ / ‖H·v‖ = %s" (sci hvNorm) (sci (sqrt (NamedTensors.dot gap gap) / hvNorm))

let other = parameters |> NamedTensors.map (fun name t -> Tensor.RandomNormal(Storage.Seed.derive 20 name, t.Shape))
let uHv, Huv = NamedTensors.dot other hv, NamedTensors.dot (Ad.Named.hvp loss parameters other) direction
printfn "⟨u, H·v⟩ = %s, ⟨H·u, v⟩ = %s, relative difference %s" (uHv.ToString "R") (Huv.ToString "R") (sci (abs (uHv - Huv) / abs uHv))
(*** include-output ***)
(*** hide ***)
if sqrt (NamedTensors.dot gap gap) / hvNorm > 1e-6 then failwith "the Hessian-vector product disagrees with finite differences"
if abs (uHv - Huv) > 1e-10 * abs uHv then failwith "the Hessian is not symmetric"
(**
The finite difference agrees to about 1e-9 relative, the accuracy a centred difference with ε = 1e-5 can
have (its truncation error is of order ε², its rounding error of order 1e-16/ε); the symmetry holds to rounding.

## The adjoint identity

For a function with many outputs — here every hidden state of every step, a (4, 12, 6) tensor — forward mode
gives J·v and reverse mode gives Jᵀ·u (`Ad.Named.vjp` returns a *pullback*, the function u ↦ Jᵀ·u). Whatever
u and v are, ⟨u, J·v⟩ = ⟨Jᵀ·u, v⟩: both are uᵀJv. RnnAd's tests hold every op to this identity on random
compositions, because it ties the two modes together without a third implementation to trust.
*)
let states (p: NamedTensors) =
    fst (Sequence.run Cells.gru p (Cell.zeroState Cells.gru batch hidden) SequenceOptions.Default xs)

let outputs, pullback = Ad.Named.vjp states parameters
let _, jv = Ad.Named.jvp states parameters direction
let u = Tensor.RandomNormal(30, outputs.Shape)
let left = (u * jv).Sum().ToScalar()
let right = NamedTensors.dot (pullback u) direction
printfn "outputs (%s): ⟨u, J·v⟩ = %s, ⟨Jᵀ·u, v⟩ = %s, relative difference %s"
    (String.concat ", " (Array.map string outputs.Shape)) (left.ToString "R") (right.ToString "R") (sci (abs (left - right) / abs left))
(*** include-output ***)
(*** hide ***)
if abs (left - right) > 1e-12 * abs left then failwith "the adjoint identity fails"
(**
## How much gradient reaches each step

To see ∂L/∂hₜ, the gradient of the loss with respect to the state after step t, RnnAd adds a *probe* to every
hₜ: a tensor of zeros, so nothing changes in the forward pass, but the gradient with respect to probe t is
exactly ∂L/∂hₜ. Below the loss reads only the final state of 40 steps, and the table gives ‖∂L/∂hₜ‖ for
steps counted back from the end: how much of the error signal a step 39, 35, … 0 steps before the loss
receives.
*)
let longTime, width = 40, 8
let longXs = Tensor.RandomNormal(11, [| batch; longTime; inputSize |])

/// ‖∂L/∂hₜ‖ for t = 0 … 39, where L = Σ h_T² / batch reads only the last state.
let flow (cell: Cell) (p: NamedTensors) : float[] =
    let finalLoss (probes: Tensor) =
        let options = { SequenceOptions.Default with Probes = Some(Array.init longTime (fun t -> probes.Select(0, t))) }
        let _, final = Sequence.run cell p (Cell.zeroState cell batch width) options longXs
        (final.H * final.H).Sum() / float batch
    let g = Ad.grad finalLoss (Tensor.Zeros [| longTime; batch; width |])
    Array.init longTime (fun t -> let s = g.Select(0, t) in sqrt ((s * s).Sum().ToScalar()))

let rnnParameters = Cell.init Cells.rnnTanh inputSize width 5
let gruParameters = Cell.init Cells.gru inputSize width 5
/// The same GRU with the update gate's bias raised by 3, so z ≈ σ(3) ≈ 0.95: a GRU that keeps its state.
let keeping =
    gruParameters |> NamedTensors.map (fun name t ->
        if name = "bias_hh" then Tensor.Concat([ t.Slice(0, 0, width); t.Slice(0, width, width) + 3.0; t.Slice(0, 2 * width, width) ], 0)
        else t)

let steps = [ 39; 35; 30; 20; 10; 0 ]
/// The norms at a few steps, and the average factor per step back: (‖∂L/∂h₀‖ / ‖∂L/∂h₃₉‖)^(1/39).
let row name (norms: float[]) =
    printfn "%-30s %s  %8.3f" name (String.concat "  " [ for t in steps -> (sci norms.[t]).PadLeft 10 ]) ((norms.[0] / norms.[39]) ** (1.0 / 39.0))
printfn "%-30s %s  %8s" "‖∂L/∂hₜ‖ at t =" (String.concat "  " [ for t in steps -> (string t).PadLeft 10 ]) "per step"
row "RNN (tanh), initialised" (flow Cells.rnnTanh rnnParameters)
row "GRU, initialised" (flow Cells.gru gruParameters)
row "GRU, update gate biased open" (flow Cells.gru keeping)
(*** include-output ***)
(*** hide ***)
let kept, rnnFlow = flow Cells.gru keeping, flow Cells.rnnTanh rnnParameters
if kept.[0] / kept.[39] < 0.1 || rnnFlow.[0] / rnnFlow.[39] > 1e-6 then failwith "the gradient flow no longer shows what the text says"
(**
At initialisation both cells lose the signal geometrically: every step back multiplies ∂L/∂hₜ by the step's
Jacobian — for the RNN, Wₕₕᵀ·diag(1 − hₜ²) — and the last column gives the average factor per step. That is
the vanishing gradient, and it is why a plain RNN struggles to learn from what happened 30 steps ago. The GRU's way out is its update gate: hₜ =
(1 − z) ⊙ n + z ⊙ hₜ₋₁ contains the term z ⊙ hₜ₋₁, so where z is near 1 a step passes its state — and its
gradient — through almost unchanged. Biasing z open (last row) keeps the gradient within an order of
magnitude over 40 steps. Training can learn such gates where the task needs memory; seed 001's page
[shows the same measurement](../seeds/seed-001.html) on the teaching notes' own network, and seed 003's
page measures it on sentiment classification.

## Where next

- [Gradient checking](gradient-checking.html): these gradients against the hand-derived backpropagation
  through time and finite differences.
- The functions used here: `Ad` (`grad`, `valueAndGrad`, `jvp`, `vjp`, `hvp`, `jacobian`) and `Ad.Named` in the
  [API reference](../reference/rnnad-fsharp-ad.html).
*)
