module RnnAd.FSharp.Tests.Autodiff.ElementwiseOpTests

open System
open RnnAd
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Tests

// The element-wise ops beyond arithmetic (their finite-difference checks are in OpGradientTests): forward
// and reverse rules tied together, second derivatives, values and derivatives pinned by hand at kinks, ties
// and edges, and the cases where a derivative that PyTorch takes as 0 once came out NaN.

let private scalar (t: Tensor) = t.ToScalar()
let private vector (values: float list) = Tensor.OfArray(Array.ofList values)

/// Every unary op with a new or reworked rule, named, with inputs inside its domain and off its kinks.
let private unaryOps : (string * (Tensor -> Tensor) * (int -> Tensor)) list =
    let u seed = Check.uniform seed -2.0 2.0 [| 3; 4 |]
    let away seed = Check.awayFromZero seed 0.2 [| 3; 4 |]
    [ "sin", sin, u
      "cos", cos, u
      "log1p", (fun x -> x.Log1p()), (fun seed -> Check.uniform seed -0.9 2.0 [| 3; 4 |])
      "expm1", (fun x -> x.Expm1()), u
      "erf", (fun x -> x.Erf()), u
      "reciprocal", (fun x -> x.Reciprocal()), away
      "square", (fun x -> x.Square()), u
      "softplus", (fun x -> x.Softplus()), u
      "gelu", (fun x -> x.Gelu()), u
      "silu", (fun x -> x.Silu()), u
      "elu", (fun x -> x.Elu 1.3), away
      "leakyRelu", (fun x -> x.LeakyRelu 0.1), away
      "relu", (fun x -> x.Relu()), away
      "clamp", (fun x -> x.Clamp(-0.5, 0.5)), away ]

/// The binary ones, with an operand broadcast along the first dimension.
let private binaryOps : (string * (Tensor -> Tensor -> Tensor)) list =
    [ "maximum", (fun a b -> Tensor.Maximum(a, b))
      "minimum", (fun a b -> Tensor.Minimum(a, b)) ]

let private norm (t: Tensor) = sqrt (scalar ((t * t).Sum()))

/// |⟨u, J·v⟩ − ⟨Jᵀ·u, v⟩| relative to the magnitudes of its terms: both sides are the same bilinear form
/// rounded differently, so the error is a few ε times ‖u‖‖Jv‖ + ‖Jᵀu‖‖v‖, and 1e-12 of that scale leaves a
/// wide margin over 2.2e-16.
let private expectAdjoint (name: string) (f: Tensor -> Tensor) (x: Tensor) (seed: int) =
    let v = Check.uniform seed -1.0 1.0 x.Shape
    let y, jv = Ad.jvp f x v
    let u = Check.uniform (seed + 1) -1.0 1.0 y.Shape
    let _, pull = Ad.vjp f x
    let jtu = pull u
    let lhs, rhs = scalar ((u * jv).Sum()), scalar ((jtu * v).Sum())
    let scale = norm u * norm jv + norm jtu * norm v
    Expect.isLessThanOrEqual (abs (lhs - rhs)) (1e-12 * scale) (sprintf "%s: ⟨u, Jv⟩ = %.17g, ⟨Jᵀu, v⟩ = %.17g" name lhs rhs)

[<Tests>]
let adjointIdentity =
    testList "Autodiff/element-wise ops: ⟨u, J·v⟩ = ⟨Jᵀ·u, v⟩" [
        for name, f, input in unaryOps do
            yield test name { expectAdjoint name f (input 1) 2 }
        for name, f in binaryOps do
            let a, b = Check.uniform 3 -1.0 1.0 [| 3; 4 |], Check.uniform 4 -1.0 1.0 [| 4 |]
            yield test (name + ", in the first operand") { expectAdjoint name (fun x -> f x b) a 5 }
            yield test (name + ", in the broadcast operand") { expectAdjoint name (fun x -> f a x) b 7 }
    ]

/// Smooth ops (or smooth where tried) whose second derivatives the Hessian-vector products check.
let private smoothOps : (string * (Tensor -> Tensor)) list =
    [ "gelu", (fun x -> x.Gelu())
      "softplus", (fun x -> x.Softplus())
      "silu", (fun x -> x.Silu())
      "erf", (fun x -> x.Erf())
      "log1p ∘ square", (fun x -> x.Square().Log1p())
      "expm1 ∘ sin", (fun x -> (sin x).Expm1())
      "elu, below 0", (fun x -> (x - 3.0).Elu 1.3) ]

[<Tests>]
let secondDerivatives =
    testList "Autodiff/element-wise ops: Hessian-vector products" [
        for name, f in smoothOps do
            yield test (name + ": hvp agrees with finite differences of the gradient") {
                let w = Check.uniform 11 -1.0 1.0 [| 5 |]
                let loss (x: Tensor) = (f x * w).Sum() * (x * x).Sum()
                let x = Check.uniform 12 -1.5 1.5 [| 5 |]
                let v = Check.uniform 13 -1.0 1.0 [| 5 |]
                let hv = Ad.hvp loss x v
                let h = 1e-5
                let fd = (Ad.grad loss (x + h * v) - Ad.grad loss (x - h * v)) / (2.0 * h)
                // Centred differences of a gradient: truncation O(h²·f⁗) ≈ 1e-10, rounding ε·|∇L|/h ≈ 1e-11.
                Check.close (name + ": H·v") 1e-6 1e-8 (fd.ToArray()) (hv.ToArray())
            }
        yield test "sin'' = −sin and cos'' = −cos, by reverse over reverse" {
            let x = Check.uniform 14 -3.0 3.0 [| 6 |]
            let second (f: Tensor -> Tensor) = Ad.grad (fun x -> (Ad.grad (fun y -> (f y).Sum()) x).Sum()) x
            // Each side is one library sin or cos and at most one negation: equal to the last bit.
            Check.exact "sin''" [| 6 |] ((-(sin x)).ToArray()) (second sin)
            Check.exact "cos''" [| 6 |] ((-(cos x)).ToArray()) (second cos)
        }
    ]

[<Tests>]
let kinks =
    testList "Autodiff/element-wise ops: kinks, ties and edges by hand" [
        test "relu, leakyRelu and elu at and around 0: PyTorch's one-sided derivatives" {
            let x = vector [ -2.0; 0.0; 3.0 ]
            // relu: [0, 0, 3], derivative [0, 0 (the kink), 1]
            Check.exact "relu" [| 3 |] [| 0.0; 0.0; 3.0 |] (x.Relu())
            Check.exact "relu'" [| 3 |] [| 0.0; 0.0; 1.0 |] (Ad.grad (fun x -> x.Relu().Sum()) x)
            // leakyRelu 0.1: [−0.2, 0, 3], derivative [0.1, 0.1 (the kink takes the slope), 1]
            Check.exact "leakyRelu" [| 3 |] [| -2.0 * 0.1; 0.0; 3.0 |] (x.LeakyRelu 0.1)
            Check.exact "leakyRelu'" [| 3 |] [| 0.1; 0.1; 1.0 |] (Ad.grad (fun x -> (x.LeakyRelu 0.1).Sum()) x)
            // elu 1.5: [1.5·(e⁻² − 1), 0, 3], derivative [1.5·e⁻², 1.5 (α·e⁰ at the kink), 1];
            // 1.5·(e⁻² − 1) = −1.2969970751450810 and 1.5·e⁻² = 0.20300292485491904 (to 17 digits); each is
            // one exp or expm1 within an ulp and one product: 4e-16 relative.
            Check.close "elu" 4e-16 0.0 [| -1.2969970751450810; 0.0; 3.0 |] ((x.Elu 1.5).ToArray())
            Check.close "elu'" 4e-16 0.0 [| 0.20300292485491904; 1.5; 1.0 |] ((Ad.grad (fun x -> (x.Elu 1.5).Sum()) x).ToArray())
        }
        test "sign is a constant: values −1, 0, 1, NaN, and a zero derivative in the product rule" {
            let x = vector [ -3.0; 0.0; 2.0; nan ]
            let s = (x.Sign()).ToArray()
            Expect.equal s.[.. 2] [| -1.0; 0.0; 1.0 |] "signs"
            Expect.isTrue (Double.IsNaN s.[3]) "NaN stays NaN"
            // d/dx Σ sign(x)·x = sign(x) + x·0
            Check.exact "grad" [| 2 |] [| -1.0; 1.0 |] (Ad.grad (fun x -> (x.Sign() * x).Sum()) (vector [ -3.0; 2.0 ]))
        }
        test "maximum and minimum split the gradient equally on ties (PyTorch's rule)" {
            let a, b = vector [ 1.0; 2.0; 3.0 ], vector [ 1.0; 5.0; 0.0 ]
            let ps = NamedTensors.ofList [ "a", a; "b", b ]
            // max: tie, b wins, a wins → ∂/∂a = [½, 0, 1], ∂/∂b = [½, 1, 0]
            let gMax = Ad.Named.grad (fun p -> Tensor.Maximum(p.["a"], p.["b"]).Sum()) ps
            Check.exact "max ∂a" [| 3 |] [| 0.5; 0.0; 1.0 |] gMax.["a"]
            Check.exact "max ∂b" [| 3 |] [| 0.5; 1.0; 0.0 |] gMax.["b"]
            // min: tie, a wins, b wins → ∂/∂a = [½, 1, 0], ∂/∂b = [½, 0, 1]
            let gMin = Ad.Named.grad (fun p -> Tensor.Minimum(p.["a"], p.["b"]).Sum()) ps
            Check.exact "min ∂a" [| 3 |] [| 0.5; 1.0; 0.0 |] gMin.["a"]
            Check.exact "min ∂b" [| 3 |] [| 0.5; 0.0; 1.0 |] gMin.["b"]
            // forward mode at the tie: ½·(da + db) = ½·(2 + 4) = 3
            let _, t = Ad.Named.jvp (fun p -> Tensor.Maximum(p.["a"], p.["b"])) (NamedTensors.ofList [ "a", Tensor.Scalar 1.0; "b", Tensor.Scalar 1.0 ])
                                     (NamedTensors.ofList [ "a", Tensor.Scalar 2.0; "b", Tensor.Scalar 4.0 ])
            Expect.equal (scalar t) 3.0 "tangent at a tie"
        }
        test "maximum against a broadcast scalar sums the scalar's shares, halves included" {
            let x = Tensor.OfArray [| [| 2.0; 1.0; 3.0 |]; [| 2.0; 2.0; 0.0 |] |]
            let ps = NamedTensors.ofList [ "x", x; "s", Tensor.Scalar 2.0 ]
            let g = Ad.Named.grad (fun p -> Tensor.Maximum(p.["x"], p.["s"]).Sum()) ps
            // x's shares: [[½, 0, 1], [½, ½, 0]]; the scalar's: three ties (½ each) and two wins (1 each) = 3.5
            Check.exact "∂x" [| 2; 3 |] [| 0.5; 0.0; 1.0; 0.5; 0.5; 0.0 |] g.["x"]
            Check.exact "∂s" [||] [| 3.5 |] g.["s"]
        }
        test "maximum and minimum propagate NaN, and give the whole adjoint to both sides there (as PyTorch)" {
            let ps = NamedTensors.ofList [ "a", vector [ nan; 1.0 ]; "b", vector [ 0.0; nan ] ]
            for name, op in binaryOps do
                let y, pull = Ad.Named.vjp (fun p -> op p.["a"] p.["b"]) ps
                Expect.isTrue (y.ToArray() |> Array.forall Double.IsNaN) (name + ": NaN wins")
                let g = pull (vector [ 1.0; 1.0 ])
                Check.exact (name + " ∂a") [| 2 |] [| 1.0; 1.0 |] g.["a"]
                Check.exact (name + " ∂b") [| 2 |] [| 1.0; 1.0 |] g.["b"]
        }
        test "softplus on both sides of its threshold, and far below" {
            let x = vector [ 20.0; 20.5; -800.0; 0.0 ]
            let v = (x.Softplus()).ToArray()
            // softplus 20 = 20 + ln(1 + e⁻²⁰) = 20.000000002061154 (to 17 digits), within an ulp (1.8e-16 relative)
            Check.close "softplus 20" 2.3e-16 0.0 [| 20.000000002061154 |] [| v.[0] |]
            // above the threshold the input itself; e⁻⁸⁰⁰ underflows to 0, so ln(1 + 0) = 0; ln 2 at 0
            Expect.equal v.[1 ..] [| 20.5; 0.0; 0.69314718055994531 |] "20.5, −800 and 0"
            let g = (Ad.grad (fun x -> x.Softplus().Sum()) x).ToArray()
            // σ(20) = 1/(1 + e⁻²⁰) = 0.99999999793884638; 1 above; σ(−800) = 0; σ(0) = ½
            Check.close "σ(20)" 2.3e-16 0.0 [| 0.99999999793884638 |] [| g.[0] |]
            Expect.equal g.[1 ..] [| 1.0; 0.0; 0.5 |] "derivatives at 20.5, −800 and 0"
        }
        test "gelu and silu at 0 and 1 against tabulated Φ, φ and σ" {
            // Φ(1) = 0.84134474606854295, φ(1) = 0.24197072451914335, σ(1) = 0.73105857863000488 (to 17
            // digits); gelu(1) = Φ(1), gelu'(1) = Φ(1) + φ(1) = 1.0833154705876863; silu(1) = σ(1),
            // silu'(1) = σ(1)·(1 + 1·(1 − σ(1))) = 0.92767051187148673. At 0: gelu = silu = 0, both slopes ½.
            // Tolerance 1e-15: a few roundings of erf or σ, each within an ulp.
            let x = vector [ 0.0; 1.0 ]
            Check.close "gelu" 1e-15 0.0 [| 0.0; 0.84134474606854295 |] (x.Gelu().ToArray())
            Check.close "gelu'" 1e-15 0.0 [| 0.5; 1.0833154705876863 |] ((Ad.grad (fun x -> x.Gelu().Sum()) x).ToArray())
            Check.close "silu" 1e-15 0.0 [| 0.0; 0.73105857863000488 |] (x.Silu().ToArray())
            Check.close "silu'" 1e-15 0.0 [| 0.5; 0.92767051187148673 |] ((Ad.grad (fun x -> x.Silu().Sum()) x).ToArray())
        }
        test "comparisons give constant 0/1 masks, broadcasting, false on NaN but for ≠" {
            let x = vector [ 1.0; 2.0; nan ]
            Check.exact ">" [| 3 |] [| 0.0; 0.0; 0.0 |] (x.Greater 2.0)
            Check.exact "≥" [| 3 |] [| 0.0; 1.0; 0.0 |] (x.GreaterEqual 2.0)
            Check.exact "<" [| 3 |] [| 1.0; 0.0; 0.0 |] (x.Less 2.0)
            Check.exact "≤" [| 3 |] [| 1.0; 1.0; 0.0 |] (x.LessEqual 2.0)
            Check.exact "=" [| 3 |] [| 0.0; 1.0; 0.0 |] (x.Equal 2.0)
            Check.exact "≠" [| 3 |] [| 1.0; 0.0; 1.0 |] (x.NotEqual 2.0)
            // (2, 1) against (3,): [[1 > 0, 1 > 1, 1 > 2], [3 > 0, 3 > 1, 3 > 2]]
            let col = Tensor.OfArray([| 2; 1 |], [| 1.0; 3.0 |])
            Check.exact "broadcast" [| 2; 3 |] [| 1.0; 0.0; 0.0; 1.0; 1.0; 1.0 |] (col.Greater(vector [ 0.0; 1.0; 2.0 ]))
            // a mask is a constant: d/dx Σ [x > 0]·x = [x > 0]
            Check.exact "mask in a product" [| 2 |] [| 0.0; 1.0 |] (Ad.grad (fun x -> (x.Greater 0.0 * x).Sum()) (vector [ -1.0; 2.0 ]))
        }
        test "log1p and expm1 keep the digits of tiny arguments, and so do their derivatives" {
            // x = 2⁻³³ ≈ 1.16e-10: ln(1 + x) = x − x²/2 + x³/3 − … = 2⁻³³ − 2⁻⁶⁷ + 2⁻¹⁰⁰/3 − …, whose nearest double
            // is 2⁻³³ − 2⁻⁶⁷ (34 bits); likewise eˣ − 1 rounds to 2⁻³³ + 2⁻⁶⁷. At −1e-300 the value is x itself.
            let x = vector [ Math.ScaleB(1.0, -33); -1e-300 ]
            Check.exact "log1p" [| 2 |] [| Math.ScaleB(1.0, -33) - Math.ScaleB(1.0, -67); -1e-300 |] (x.Log1p())
            Check.exact "expm1" [| 2 |] [| Math.ScaleB(1.0, -33) + Math.ScaleB(1.0, -67); -1e-300 |] (x.Expm1())
            // derivatives 1/(1 + x) and eˣ: 1 to within 2e-10
            Check.close "log1p'" 1e-9 0.0 [| 1.0; 1.0 |] ((Ad.grad (fun x -> x.Log1p().Sum()) x).ToArray())
            Check.close "expm1'" 1e-9 0.0 [| 1.0; 1.0 |] ((Ad.grad (fun x -> x.Expm1().Sum()) x).ToArray())
        }
    ]

[<Tests>]
let maskedDerivatives =
    testList "Autodiff/element-wise ops: derivatives PyTorch takes as 0 are 0, not NaN" [
        test "√(relu x) at x < 0: relu's zero derivative meets √'s infinite one at 0" {
            // d/dx √(relu x) = [x > 0]/(2√x): 0 at x = −1 (∞·0 before, NaN), 1/(2·2) = ¼ at x = 4
            Check.exact "reverse" [| 2 |] [| 0.0; 0.25 |] (Ad.grad (fun x -> sqrt(x.Relu()).Sum()) (vector [ -1.0; 4.0 ]))
            // forward: relu(√x) at x = 0 has √'s tangent ∞ where relu's mask is 0
            let _, t = Ad.jvp (fun x -> (sqrt x).Relu()) (Tensor.Scalar 0.0) (Tensor.Scalar 1.0)
            Expect.equal (scalar t) 0.0 "forward"
        }
        test "√(clamp x) outside the interval, and clamp(√x) below it" {
            Check.exact "reverse" [| 2 |] [| 0.0; 0.25 |] (Ad.grad (fun x -> sqrt(x.Clamp(0.0, 10.0)).Sum()) (vector [ -1.0; 4.0 ]))
            let _, t = Ad.jvp (fun x -> (sqrt x).Clamp(0.5, 1.0)) (Tensor.Scalar 0.0) (Tensor.Scalar 1.0)
            Expect.equal (scalar t) 0.0 "forward"
        }
        test "x ** 0 is 1 with derivative 0, also at x = 0 (0·0⁻¹ before)" {
            let v, g = Ad.valueAndGrad (fun x -> (x ** 0.0).Sum()) (vector [ 0.0; 2.0 ])
            Expect.equal (scalar v) 2.0 "1 + 1"
            Check.exact "reverse" [| 2 |] [| 0.0; 0.0 |] g
            let _, t = Ad.jvp (fun x -> x ** 0.0) (Tensor.Scalar 0.0) (Tensor.Scalar 1.0)
            Expect.equal (scalar t) 0.0 "forward"
        }
        test "a ** b at a zero base: PyTorch 1.13's rules, entry by entry" {
            // a = [0, 0, 0, 0, 2], b = [0, 2, ½, −1, 3]; f = [1, 0, 0, ∞, 8]
            // ∂f/∂a = 0 where b = 0, else b·a^(b−1): [0, 2·0¹ = 0, ½·0^(−½) = ∞, −1·0⁻² = −∞, 3·2² = 12]
            // ∂f/∂b = 0 where a = 0 and b ≥ 0, else f·ln a: [0, 0, 0, ∞·(−∞) = −∞, 8·ln 2 = 5.5451774444795625]
            let ps = NamedTensors.ofList [ "a", vector [ 0.0; 0.0; 0.0; 0.0; 2.0 ]; "b", vector [ 0.0; 2.0; 0.5; -1.0; 3.0 ] ]
            let _, pull = Ad.Named.vjp (fun p -> p.["a"] ** p.["b"]) ps
            let g = pull (Tensor.Ones [| 5 |])
            Check.exact "∂/∂a" [| 5 |] [| 0.0; 0.0; infinity; -infinity; 12.0 |] g.["a"]
            let gb = g.["b"].ToArray()
            Expect.equal gb.[.. 3] [| 0.0; 0.0; 0.0; -infinity |] "∂/∂b"
            Check.close "∂/∂b at a = 2" 2.3e-16 0.0 [| 5.5451774444795625 |] gb.[4 ..]
            // forward mode takes the same rules: tangents 1 in a and in b at (a, b) = (0, 0) and (0, 2)
            let _, t = Ad.Named.jvp (fun p -> p.["a"] ** p.["b"]) (NamedTensors.ofList [ "a", vector [ 0.0; 0.0 ]; "b", vector [ 0.0; 2.0 ] ])
                                     (NamedTensors.ofList [ "a", vector [ 1.0; 1.0 ]; "b", vector [ 1.0; 1.0 ] ])
            Check.exact "forward" [| 2 |] [| 0.0; 0.0 |] t
        }
        test "an infinite adjoint meets a zero derivative as 0 in min and max too" {
            // √ at the 0 each op outputs sends back an infinite adjoint; the side that lost gets 0, not NaN:
            // max(−1, 0) = 0 and min(1, 0) = 0 (x lost), each x's derivative 0
            Check.exact "maximum" [| 1 |] [| 0.0 |] (Ad.grad (fun x -> sqrt(Tensor.Maximum(x, Tensor.Scalar 0.0)).Sum()) (vector [ -1.0 ]))
            Check.exact "minimum" [| 1 |] [| 0.0 |] (Ad.grad (fun x -> sqrt(Tensor.Minimum(x, Tensor.Scalar 0.0)).Sum()) (vector [ 1.0 ]))
        }
    ]
