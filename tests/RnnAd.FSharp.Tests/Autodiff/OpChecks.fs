/// The three checks every differentiable op gets, for the test files of the structural ops: reverse mode
/// and forward mode against centred finite differences, and the two modes tied by ⟨u, J·v⟩ = ⟨Jᵀ·u, v⟩.
module RnnAd.FSharp.Tests.Autodiff.OpChecks

open RnnAd
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Tests

/// An op under test: a function of one or more inputs, and the inputs to differentiate it at.
type OpCase = { Name: string; Inputs: Tensor[]; F: Tensor[] -> Tensor }

/// A case.
let opCase (name: string) (inputs: Tensor[]) (f: Tensor[] -> Tensor) : OpCase = { Name = name; Inputs = inputs; F = f }

let private asNamed (xs: Tensor[]) = NamedTensors(xs |> Array.mapi (fun i x -> sprintf "x%d" i, x))

/// L(xs) = Σ w ⊙ f(xs) for a fixed random w, so that every output entry counts, each with its own weight.
let private scalarised (c: OpCase) : Tensor[] -> Tensor =
    let w = Check.uniform 4321 -1.0 1.0 (c.F c.Inputs).Shape
    fun xs -> (c.F xs * w).Sum()

// Tolerance of both finite-difference checks: entry-wise |AD − FD| ≤ 1e-6·max(|AD|, |FD|) + 1e-8, the bound
// of the op gradient tests. A centred difference with step h = 1e-6 errs by O(h²·L''') ≈ 1e-12 (truncation)
// plus ≈ ε·|L|/h ≈ 2e-10·|L| (rounding); the |L| of these cases stays below 50, so the rounding part stays
// under the 1e-8 floor that lets entries whose true derivative is 0 pass.

/// ∇L by reverse mode against centred finite differences, input by input.
let reverseMatchesFiniteDifferences (c: OpCase) : unit =
    let loss = scalarised c
    let grads = Ad.Named.grad (fun p -> loss p.Tensors) (asNamed c.Inputs)
    for i in 0 .. c.Inputs.Length - 1 do
        let fd = Check.finiteDifference (fun xs -> (loss xs).ToScalar()) c.Inputs i
        Check.close (sprintf "%s: reverse ∂L/∂x%d" c.Name i) 1e-6 1e-8 fd (grads.Tensors.[i].ToArray())

/// A random directional derivative by forward mode against a centred difference along that direction.
let forwardMatchesFiniteDifferences (c: OpCase) : unit =
    let loss = scalarised c
    let direction = c.Inputs |> Array.mapi (fun i x -> Check.uniform (700 + i) -1.0 1.0 x.Shape)
    let _, jv = Ad.Named.jvp (fun p -> loss p.Tensors) (asNamed c.Inputs) (asNamed direction)
    let h = 1e-6
    let moved (s: float) = (loss (Array.map2 (fun (x: Tensor) (v: Tensor) -> x + (s * h) * v) c.Inputs direction)).ToScalar()
    Check.close (c.Name + ": forward J·v") 1e-6 1e-8 [| (moved 1.0 - moved -1.0) / (2.0 * h) |] (jv.ToArray())

/// ⟨u, J·v⟩ from forward mode equals ⟨Jᵀ·u, v⟩ from reverse mode, over all inputs at once.
let forwardAndReverseAreAdjoint (c: OpCase) : unit =
    let y = c.F c.Inputs
    let u = Check.uniform 901 -1.0 1.0 y.Shape
    let v = c.Inputs |> Array.mapi (fun i x -> Check.uniform (910 + i) -1.0 1.0 x.Shape)
    let _, jv = Ad.Named.jvp (fun p -> c.F p.Tensors) (asNamed c.Inputs) (asNamed v)
    let _, pullback = Ad.Named.vjp (fun p -> c.F p.Tensors) (asNamed c.Inputs)
    let jtu = (pullback u).Tensors
    let dot (a: Tensor) (b: Tensor) = (a * b).Sum().ToScalar()
    let norm (a: Tensor) = sqrt (dot a a)
    let lhs = dot u jv
    let rhs = Array.map2 dot jtu v |> Array.sum
    // Both sides are one bilinear form summed in different orders: they differ by a few ε times the sizes
    // of the terms, ‖u‖‖J·v‖ + Σ‖Jᵀ·u‖‖v‖; 1e-12 of that scale is thousands of ε of headroom.
    let scale = norm u * norm jv + (Array.map2 (fun g w -> norm g * norm w) jtu v |> Array.sum)
    if not (abs (lhs - rhs) <= 1e-12 * max scale 1e-300) then
        failtestf "%s: ⟨u, J·v⟩ = %.17g but ⟨Jᵀ·u, v⟩ = %.17g (scale %.3g)" c.Name lhs rhs scale

/// The three checks over a list of cases, one test each.
let opTests (name: string) (cases: OpCase list) : Test =
    testList name [
        testList "reverse mode vs finite differences" [ for c in cases -> test c.Name { reverseMatchesFiniteDifferences c } ]
        testList "forward mode vs finite differences" [ for c in cases -> test c.Name { forwardMatchesFiniteDifferences c } ]
        testList "⟨u, J·v⟩ = ⟨Jᵀ·u, v⟩" [ for c in cases -> test c.Name { forwardAndReverseAreAdjoint c } ]
    ]

/// The Hessian of f at x times v by forward-over-reverse, against centred differences of the gradient.
let hvpMatchesFiniteDifferences (what: string) (f: Tensor -> Tensor) (x: Tensor) (v: Tensor) : unit =
    let hv = Ad.hvp f x v
    let h = 1e-5
    let fd = (Ad.grad f (x + h * v) - Ad.grad f (x - h * v)) / (2.0 * h)
    // Differences of a gradient: truncation O(h²·f'''') ≈ 1e-10 and rounding ε·|∇f|/h ≈ 1e-11 for the
    // gradients of order 1–10 here, well inside 1e-6 relative with a 1e-8 floor.
    Check.close (what + ": H·v vs finite differences of ∇f") 1e-6 1e-8 (fd.ToArray()) (hv.ToArray())
