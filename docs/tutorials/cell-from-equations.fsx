(**
---
title: A cell from its equations
category: Tutorials
categoryindex: 1
index: 1
---
*)
(*** hide ***)
// The built assemblies (docs/build.sh builds the solution first). In a project of your own, reference the
// RnnAd.FSharp package instead.
#r "../../examples/RnnAd.Cli/bin/Release/net10.0/MathNet.Numerics.dll"
#r "../../examples/RnnAd.Cli/bin/Release/net10.0/RnnAd.FSharp.dll"
(**
# A cell from its equations

A recurrent cell is a function from the previous state and the current input to the next state. In RnnAd
you write one as its equations over tensors, and the library runs it over sequences, stacks it into layers,
differentiates it and trains it exactly as it does its own cells. This page writes the gated recurrent unit
(GRU) from its equations, runs it over a batch of sequences, and checks it against RnnAd's built-in GRU —
values and gradients — and then shows how much a one-line change of the equations matters.

Everything below ran when this page was built; the numbers are that run's.

## The equations

PyTorch's GRU, which RnnAd follows exactly, reads an input xₜ and the previous state hₜ₋₁ and computes a
reset gate r, an update gate z and a candidate state n (σ is the logistic function, ⊙ the element-wise
product):

```text
r  = σ(W_ir·xₜ + b_ir + W_hr·hₜ₋₁ + b_hr)
z  = σ(W_iz·xₜ + b_iz + W_hz·hₜ₋₁ + b_hz)
n  = tanh(W_in·xₜ + b_in + r ⊙ (W_hn·hₜ₋₁ + b_hn))
hₜ = (1 − z) ⊙ n + z ⊙ hₜ₋₁
```

z decides how much of the old state to keep: where z ≈ 1 the state passes through unchanged,
which is what lets a GRU carry information (and gradients) over many steps. r decides how much of the old
state the candidate may look at.

PyTorch stores the three input weights W_ir, W_iz, W_in stacked as one matrix `weight_ih` of
shape (3·hidden, input), in the order r, z, n, and likewise `weight_hh`, `bias_ih` and `bias_hh`. RnnAd uses
the same names and layout, so the cell below can read the built-in GRU's parameters as they are.

## The cell, written out

`Cell.create` takes a name, the parameters (a name and a shape as a function of the input and hidden sizes),
the number of state slots (one: h) and the step, a function of the parameters, the state and the input
(a batch of shape (batch, input)). `Nn.linear W b x` is x·Wᵀ + b for a whole batch at once.
*)
open RnnAd
open RnnAd.FSharp

/// The three gate blocks (r, z, n) of a stacked weight or bias, split along its first dimension.
let gates (stacked: Tensor) = let g = stacked.Chunk(3, 0) in g.[0], g.[1], g.[2]

let myGru =
    Cell.create "MyGRU"
        [ Cell.parameter "weight_ih" (fun input hidden -> [| 3 * hidden; input |])
          Cell.parameter "weight_hh" (fun _ hidden -> [| 3 * hidden; hidden |])
          Cell.parameter "bias_ih" (fun _ hidden -> [| 3 * hidden |])
          Cell.parameter "bias_hh" (fun _ hidden -> [| 3 * hidden |]) ]
        1
        (fun p state x ->
            let h = state.H
            let wIr, wIz, wIn = gates p.["weight_ih"]
            let wHr, wHz, wHn = gates p.["weight_hh"]
            let bIr, bIz, bIn = gates p.["bias_ih"]
            let bHr, bHz, bHn = gates p.["bias_hh"]
            let r = Nn.sigmoid (Nn.linear wIr bIr x + Nn.linear wHr bHr h)
            let z = Nn.sigmoid (Nn.linear wIz bIz x + Nn.linear wHz bHz h)
            let n = tanh (Nn.linear wIn bIn x + r * Nn.linear wHn bHn h)
            CellState.Of((1.0 - z) * n + z * h))

(**
## Running it over a sequence

A batch of sequences is a tensor of shape (batch, time, features). `Sequence.run` folds a cell's step over
the time dimension and returns every step's h, stacked as (batch, time, hidden), and the final state. We draw
the parameters once, with the built-in GRU's initialiser (uniform in ±1/√hidden, as PyTorch), and give the
same tensors to both cells.
*)
let batch, time, inputSize, hiddenSize = 2, 7, 3, 5
let parameters = Cell.init Cells.gru inputSize hiddenSize 42
let xs = Tensor.RandomNormal(7, [| batch; time; inputSize |])
let h0 = Cell.zeroState Cells.gru batch hiddenSize

let mine, _ = Sequence.run myGru parameters h0 SequenceOptions.Default xs
let builtIn, _ = Sequence.run Cells.gru parameters h0 SequenceOptions.Default xs

/// The largest |a − b| over all entries of two tensors of the same shape.
let maxAbsDiff (a: Tensor) (b: Tensor) = (abs (a - b)).Max().ToScalar()
let shape (t: Tensor) = "(" + String.concat ", " (Array.map string t.Shape) + ")"
let sci (x: float) = x.ToString("0.0e+00", System.Globalization.CultureInfo.InvariantCulture)

for name, t in parameters.Entries do printfn "%-10s %s" name (shape t)
printfn "outputs %s; sequence 0 after its last step: %s" (shape mine)
    (mine.Select(0, 0).Select(0, time - 1).ToArray() |> Array.map (sprintf "%.6f") |> String.concat " ")
printfn "largest |mine - built-in| over all %d outputs: %s" mine.Numel (sci (maxAbsDiff mine builtIn))
(*** include-output ***)
(*** hide ***)
if maxAbsDiff mine builtIn > 1e-14 then failwithf "the GRU written here and the built-in one differ by %g" (maxAbsDiff mine builtIn)
(**
They agree to rounding. They are not computed the same way: for a built-in cell, `Sequence.run` runs a
*fused* kernel — the input projections of all steps as one matrix product, the recurrent products added in
place, a hand-written backward pass — while a cell of your own is its step folded over time. The two sum the
same products in another order, hence differences of a few units in the last digit rather than exactly zero.

## Gradients through both

Differentiation in RnnAd is a function: `Ad.Named.grad f ps` is the gradient of a function `f` of named
parameters that returns one number. Take as a loss the mean square of every output. For the cell written here
the engine differentiates the folded step, operation by operation; for the built-in cell it uses the fused
kernel's hand-written backward pass. Two independent derivations of the same derivative:
*)
let lossWith (cell: Cell) (p: NamedTensors) =
    let hs, _ = Sequence.run cell p h0 SequenceOptions.Default xs
    (hs * hs).Mean()

let gradMine = Ad.Named.grad (lossWith myGru) parameters
let gradBuiltIn = Ad.Named.grad (lossWith Cells.gru) parameters

for name in parameters.Names do
    let a, b = gradMine.[name], gradBuiltIn.[name]
    let relative = maxAbsDiff a b / (abs b).Max().ToScalar()
    printfn "%-10s largest |∂L/∂θ| %s, largest difference relative to it %s" name (sci ((abs b).Max().ToScalar())) (sci relative)
(*** include-output ***)
(*** hide ***)
for name in parameters.Names do
    let scale = (abs gradBuiltIn.[name]).Max().ToScalar()
    if maxAbsDiff gradMine.[name] gradBuiltIn.[name] > 1e-12 * scale then failwithf "gradients of %s differ" name
(**
## One line matters

Not every GRU is this one. Chung et al. (2014), who introduced the name, apply the reset gate to the state
*before* the matrix product, n = tanh(W_in·xₜ + b_in + W_hn·(r ⊙ hₜ₋₁) + b_hn). Some
libraries follow them, PyTorch and RnnAd do not. Changing that one line gives a different cell with the same
parameters:
*)
let chungGru =
    Cell.create "GRU (Chung et al.)" myGru.Parameters 1 (fun p state x ->
        let h = state.H
        let wIr, wIz, wIn = gates p.["weight_ih"]
        let wHr, wHz, wHn = gates p.["weight_hh"]
        let bIr, bIz, bIn = gates p.["bias_ih"]
        let bHr, bHz, bHn = gates p.["bias_hh"]
        let r = Nn.sigmoid (Nn.linear wIr bIr x + Nn.linear wHr bHr h)
        let z = Nn.sigmoid (Nn.linear wIz bIz x + Nn.linear wHz bHz h)
        let n = tanh (Nn.linear wIn bIn x + Nn.linear wHn bHn (r * h)) // r before the product
        CellState.Of((1.0 - z) * n + z * h))

let chung, _ = Sequence.run chungGru parameters h0 SequenceOptions.Default xs
printfn "largest |Chung et al. - PyTorch| over the outputs: %.3f (outputs lie in (-1, 1))" (maxAbsDiff chung builtIn)
(*** include-output ***)
(**
A difference of that size is no rounding error: weights trained in one convention give other outputs in the
other. This is why RnnAd's conventions page (the [architecture](../ARCHITECTURE.html), §4) pins
the equations and the layout to PyTorch's: a state dict moves between the two unchanged and means the same.

## Where next

- A cell of your own gets everything a built-in cell gets — layers, both directions, padding masks, truncated
  backpropagation, checkpoints, the trainer: put it in a `ModelSpec` (`Cell = myGru`). The example
  `examples/FSharpCustomCell` trains the minimal gated unit this way and checks it against finite differences.
- [AD on a cell](ad-on-a-cell.html) differentiates through a cell in every mode the engine has.
- [Gradient checking](gradient-checking.html) shows how RnnAd knows these gradients are right.
*)
