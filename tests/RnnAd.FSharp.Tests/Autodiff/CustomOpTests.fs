module RnnAd.FSharp.Tests.Autodiff.CustomOpTests

open RnnAd
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Storage
open RnnAd.FSharp.Tests
open RnnAd.FSharp.Tests.Autodiff.OpChecks

// A user-defined op must behave as the composite it fuses, at every order of differentiation and in both
// modes, and a rule of the wrong shape must be reported with the op's name.

/// silu(x) = x·σ(x), fused: f' = σ + x·σ·(1 − σ) = σ·(1 + x·(1 − σ)).
let private silu =
    let slope (x: Tensor) = let s = x.Sigmoid() in s * (1.0 + x * (1.0 - s))
    CustomOp.define "silu"
        (fun xs -> Elementwise.mul xs.[0] (Elementwise.sigmoid xs.[0]))
        (fun xs _ dxs -> dxs.[0] * slope xs.[0])
        (fun xs _ g -> [| g * slope xs.[0] |])

let private siluComposite (x: Tensor) = x * x.Sigmoid()

/// a ⊙ b + c, three inputs of one shape: ∂f = da·b + a·db + dc.
let private mulAdd =
    CustomOp.define "mulAdd"
        (fun xs -> Elementwise.add (Elementwise.mul xs.[0] xs.[1]) xs.[2])
        (fun xs _ d -> d.[0] * xs.[1] + xs.[0] * d.[1] + d.[2])
        (fun xs _ g -> [| g * xs.[1]; g * xs.[0]; g |])

let private x = Check.uniform 1 -3.0 3.0 [| 2; 3 |]
let private dir = Check.uniform 2 -1.0 1.0 [| 2; 3 |]

// The fused and composite derivatives are the same formulas rounded in different orders. Their terms are at
// most a few units in size (|x| ≤ 3, σ ≤ 1), so each side is within a few ε·3 of the truth: 1e-13 relative
// with a 1e-14 floor (for entries near a zero of f', where relative error means nothing) is ample.
let private agree (what: string) (expected: Tensor) (actual: Tensor) =
    Expect.equal actual.Shape expected.Shape (what + ": shape")
    Check.close what 1e-13 1e-14 (expected.ToArray()) (actual.ToArray())

let private sum (f: Tensor -> Tensor) = fun (t: Tensor) -> (f t).Sum()
let private fused (t: Tensor) = silu [| t |]

[<Tests>]
let derivatives =
    opTests "Autodiff/custom ops: derivatives" [
        opCase "silu" [| x |] (fun xs -> silu xs)
        opCase "mulAdd" [| x; Check.uniform 3 -1.0 1.0 [| 2; 3 |]; Check.uniform 4 -1.0 1.0 [| 2; 3 |] |] (fun xs -> mulAdd xs)
        opCase "mulAdd with a constant input" [| x; dir |] (fun xs -> mulAdd [| xs.[0]; Tensor.Ones [| 2; 3 |]; xs.[1] |]) ]

[<Tests>]
let againstComposite =
    testList "Autodiff/custom ops: a fused silu against x·σ(x)" [
        test "value (the same kernels, so the same bits)" {
            Expect.equal ((fused x).ToArray()) ((siluComposite x).ToArray()) "silu(x)"
        }
        test "gradient, jvp, hvp, and a gradient of a gradient" {
            agree "grad" (Ad.grad (sum siluComposite) x) (Ad.grad (sum fused) x)
            agree "jvp" (snd (Ad.jvp siluComposite x dir)) (snd (Ad.jvp fused x dir))
            agree "hvp" (Ad.hvp (sum siluComposite) x dir) (Ad.hvp (sum fused) x dir)
            let secondDerivative f = Ad.grad (fun t -> (Ad.grad (sum f) t).Sum())
            agree "grad of grad" (secondDerivative siluComposite x) (secondDerivative fused x)
            let thirdDerivative f = Ad.grad (fun t -> (secondDerivative f t).Sum())
            agree "grad of grad of grad" (thirdDerivative siluComposite x) (thirdDerivative fused x)
            // reverse over forward: the gradient of a tangent
            agree "grad of jvp" (Ad.grad (fun t -> (snd (Ad.jvp siluComposite t dir)).Sum()) x) (Ad.grad (fun t -> (snd (Ad.jvp fused t dir)).Sum()) x)
        }
        test "first and second derivative at 0 by hand" {
            // σ(0) = 1/2: f'(0) = σ·(1 + 0) = 1/2; f'' = 2σ(1 − σ) + x·σ(1 − σ)(1 − 2σ) = 2·1/4 = 1/2 at 0.
            let zero = Tensor.Zeros [| 1 |]
            Check.exact "f'(0)" [| 1 |] [| 0.5 |] (Ad.grad (sum fused) zero)
            Check.exact "f''(0)" [| 1 |] [| 0.5 |] (Ad.grad (fun t -> (Ad.grad (sum fused) t).Sum()) zero)
        }
    ]

[<Tests>]
let severalInputs =
    testList "Autodiff/custom ops: several inputs" [
        let a, b, c = Tensor.OfArray [| 1.; 2. |], Tensor.OfArray [| 3.; 4. |], Tensor.OfArray [| 5.; 6. |]
        test "values and each input's gradient by hand" {
            // [1·3 + 5, 2·4 + 6]
            Check.exact "value" [| 2 |] [| 8.; 14. |] (mulAdd [| a; b; c |])
            let g = Ad.Named.grad (fun p -> (mulAdd p.Tensors).Sum()) (NamedTensors.ofList [ "a", a; "b", b; "c", c ])
            // ∂Σ/∂a = b, ∂Σ/∂b = a, ∂Σ/∂c = 1
            Check.exact "∂a" [| 2 |] [| 3.; 4. |] g.["a"]
            Check.exact "∂b" [| 2 |] [| 1.; 2. |] g.["b"]
            Check.exact "∂c" [| 2 |] [| 1.; 1. |] g.["c"]
            // only a differentiated: the tangent [1, 1] gives b·[1, 1]
            Check.exact "jvp in a" [| 2 |] [| 3.; 4. |] (snd (Ad.jvp (fun a -> mulAdd [| a; b; c |]) a (Tensor.Ones [| 2 |])))
        }
        test "one call of the reverse rule serves every input of a backward step" {
            let calls = ref 0
            let counted =
                CustomOp.define "counted"
                    (fun xs -> Elementwise.mul xs.[0] xs.[1])
                    (fun xs _ d -> d.[0] * xs.[1] + xs.[0] * d.[1])
                    (fun xs _ g -> calls.Value <- calls.Value + 1; [| g * xs.[1]; g * xs.[0] |])
            Ad.Named.grad (fun p -> (counted p.Tensors).Sum()) (NamedTensors.ofList [ "a", a; "b", b ]) |> ignore
            Expect.equal calls.Value 1 "one call for two inputs"
        }
    ]

[<Tests>]
let badRules =
    testList "Autodiff/custom ops: rules of the wrong shape are reported with the op's name" [
        let v = Tensor.OfArray [| 1.; 2.; 3. |]
        let define name reverse forward = CustomOp.define name (fun xs -> xs.[0]) forward reverse
        let identityForward = fun (_: Tensor[]) (_: Tensor) (d: Tensor[]) -> d.[0]
        let identityReverse = fun (_: Tensor[]) (_: Tensor) (g: Tensor) -> [| g |]
        test "an adjoint of the wrong shape" {
            let op = define "sums" (fun _ _ g -> [| g.Sum() |]) identityForward
            Check.throwsWith [ "custom op 'sums'"; "adjoint of shape ()"; "input 0 of shape (3,)" ] (fun () -> Ad.grad (fun t -> (op [| t |]).Sum()) v)
        }
        test "the wrong number of adjoints" {
            let op = define "twice" (fun _ _ g -> [| g; g |]) identityForward
            Check.throwsWith [ "custom op 'twice'"; "2 adjoints for 1 inputs" ] (fun () -> Ad.grad (fun t -> (op [| t |]).Sum()) v)
        }
        test "a tangent of the wrong shape" {
            let op = define "shrinks" identityReverse (fun _ _ d -> d.[0].Narrow(0, 0, 1))
            Check.throwsWith [ "custom op 'shrinks'"; "tangent of shape (1,)"; "output of shape (3,)" ] (fun () -> Ad.jvp (fun t -> op [| t |]) v v)
        }
        test "a value kernel that returns null, and a definition without a name" {
            let op = CustomOp.define "nothing" (fun _ -> Unchecked.defaultof<RawTensor>) identityForward identityReverse
            Check.throwsWith [ "custom op 'nothing'"; "value kernel returned null" ] (fun () -> op [| v |])
            Check.throwsWith [ "name" ] (fun () -> CustomOp.define " " (fun xs -> xs.[0]) identityForward identityReverse)
        }
    ]
