module RnnAd.FSharp.Tests.Autodiff.ReductionOpTests

open System
open RnnAd
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Storage
open RnnAd.FSharp.Tests
open RnnAd.FSharp.Tests.Autodiff.OpChecks

// Min, Prod, CumSum, Var, Std and Norm: derivatives against finite differences, values and gradients worked
// out by hand in the comment beside each, zeros in products, corners of norms, and bad input.

let private u seed shape = Check.uniform seed -2.0 2.0 shape
let private away seed shape = Check.awayFromZero seed 0.2 shape
let private v (values: float list) = Tensor.OfArray(Array.ofList values)

let private cases =
    let t = [| 2; 3; 4 |]
    [ for shape in [ [||]; [| 5 |]; t ] do
        let s = Shape.format shape
        opCase ("min " + s) [| u 1 shape |] (fun x -> x.[0].Min())
        opCase ("prod " + s) [| u 2 shape |] (fun x -> x.[0].Prod())
        opCase ("norm " + s) [| away 3 shape |] (fun x -> x.[0].Norm())
      for dim in [ 0; 1; -1 ] do
        for keep in [ false; true ] do
            let s = sprintf "dim %d keep %b" dim keep
            opCase ("min " + s) [| u 11 t |] (fun x -> x.[0].Min(dim, keep))
            opCase ("prod " + s) [| u 12 t |] (fun x -> x.[0].Prod(dim, keep))
            opCase ("var " + s) [| u 13 t |] (fun x -> x.[0].Var(dim, keep))
            opCase ("biased var " + s) [| u 14 t |] (fun x -> x.[0].Var(dim, keep, false))
            opCase ("std " + s) [| u 15 t |] (fun x -> x.[0].Std(dim, keep))
            for p in [ 1.0; 1.5; 2.0; 3.0 ] do
                opCase (sprintf "norm p=%g %s" p s) [| away 16 t |] (fun x -> x.[0].Norm(p, dim, keep))
        opCase (sprintf "cumsum dim %d" dim) [| u 17 t |] (fun x -> x.[0].CumSum dim)
      // A polynomial is smooth through its zeros, so finite differences hold there too.
      opCase "prod with one zero per slice" [| Tensor.OfArray([| 2; 3 |], [| 0.0; 1.5; -2.0; 0.7; 0.0; 1.2 |]) |] (fun x -> x.[0].Prod(1))
      opCase "prod with two zeros in a slice" [| Tensor.OfArray([| 4 |], [| 0.0; 1.5; 0.0; -2.0 |]) |] (fun x -> x.[0].Prod())
      opCase "var of all" [| u 18 t |] (fun x -> x.[0].Var())
      opCase "biased std of all" [| u 19 t |] (fun x -> x.[0].Std(false)) ]

let private grad f (x: Tensor) = Ad.grad f x

[<Tests>]
let derivatives = opTests "Autodiff/reductions: derivatives" cases

[<Tests>]
let values =
    // Check.exact where every step is exact in binary; Check.close at 1e-15 relative (about 4.5 ulp) where the
    // op and the hand formula take a root, a power or a division in another order, each rounding once.
    testList "Autodiff/reductions: values by hand" [
        let m = Tensor.OfArray [| [| 1.; 5.; 3. |]; [| 4.; 2.; 6. |] |]
        test "min and argmin, first index on ties" {
            Check.exact "min" [||] [| 1. |] (m.Min())
            Check.exact "min dim 1" [| 2 |] [| 1.; 2. |] (m.Min 1)
            Check.exact "min dim 0 keep" [| 1; 3 |] [| 1.; 2.; 3. |] (m.Min(0, true))
            Expect.equal (m.ArgMin 1) [| 0; 1 |] "argmin dim 1"
            Expect.equal (m.ArgMin()) 0 "argmin of all"
            // [2, 1, 1]: the minimum 1 first appears at index 1, which alone receives the gradient.
            Check.exact "gradient to the first minimum" [| 3 |] [| 0.; 1.; 0. |] (grad (fun x -> x.Min()) (v [ 2.; 1.; 1. ]))
        }
        test "prod along dimensions and of all" {
            // rows: 1·5·3 = 15, 4·2·6 = 48; columns: 1·4, 5·2, 3·6; all: 15·48 = 720
            Check.exact "prod dim 1" [| 2 |] [| 15.; 48. |] (m.Prod 1)
            Check.exact "prod dim 0 keep" [| 1; 3 |] [| 4.; 10.; 18. |] (m.Prod(0, true))
            Check.exact "prod" [||] [| 720. |] (m.Prod())
            Check.exact "empty product is 1" [| 2 |] [| 1.; 1. |] ((Tensor.Zeros [| 2; 0 |]).Prod 1)
        }
        test "prod's gradient is the product of the others, exact with zeros" {
            // [1, 2, 3, 4]: ∂/∂a_i = 24 / a_i = [24, 12, 8, 6]
            Check.exact "no zero" [| 4 |] [| 24.; 12.; 8.; 6. |] (grad (fun x -> x.Prod()) (v [ 1.; 2.; 3.; 4. ]))
            // [2, 0, 3, 4]: only the zero's partial derivative survives: 2·3·4 = 24
            Check.exact "one zero" [| 4 |] [| 0.; 24.; 0.; 0. |] (grad (fun x -> x.Prod()) (v [ 2.; 0.; 3.; 4. ]))
            // [0, 2, 0, 3]: every partial derivative keeps one of the zeros
            Check.exact "two zeros" [| 4 |] [| 0.; 0.; 0.; 0. |] (grad (fun x -> x.Prod()) (v [ 0.; 2.; 0.; 3. ]))
            // forward mode: tangent e_1 at [2, 0, 3, 4] is ∂f/∂a_1 = 24
            Check.exact "one zero, forward" [||] [| 24. |] (snd (Ad.jvp (fun x -> x.Prod()) (v [ 2.; 0.; 3.; 4. ]) (v [ 0.; 1.; 0.; 0. ])))
        }
        test "prod's second derivatives are exact with zeros" {
            // f = a0·a1·a2·a3, ∂²f/∂a_i∂a_k = Π of the two others.
            // At [2, 0, 3, 4], row 1 of the Hessian: [a2·a3, 0, a0·a3, a0·a2] = [12, 0, 8, 6]
            Check.exact "one zero: H·e1" [| 4 |] [| 12.; 0.; 8.; 6. |] (Ad.hvp (fun x -> x.Prod()) (v [ 2.; 0.; 3.; 4. ]) (v [ 0.; 1.; 0.; 0. ]))
            // At [0, 0, 2, 3], row 0: [0, a2·a3, a1·a3, a1·a2] = [0, 6, 0, 0]
            Check.exact "two zeros: H·e0" [| 4 |] [| 0.; 6.; 0.; 0. |] (Ad.hvp (fun x -> x.Prod()) (v [ 0.; 0.; 2.; 3. ]) (v [ 1.; 0.; 0.; 0. ]))
            // the same by reverse over reverse, along a dimension: d/da (∂f/∂a_0) at rows [0, 0, 2, 3]
            let secondRow = grad (fun x -> (grad (fun y -> y.Prod(1).Sum()) x).Select(1, 0).Sum()) (Tensor.OfArray([| 1; 4 |], [| 0.; 0.; 2.; 3. |]))
            Check.exact "two zeros: reverse over reverse" [| 1; 4 |] [| 0.; 6.; 0.; 0. |] secondRow
        }
        test "cumsum along each dimension, and its adjoint sums from the end" {
            let a = Tensor.OfArray [| [| 1.; 2.; 3. |]; [| 4.; 5.; 6. |] |]
            // rows: [1, 1+2, 1+2+3], [4, 4+5, 4+5+6]; columns: [1, 2, 3], [1+4, 2+5, 3+6]
            Check.exact "dim 1" [| 2; 3 |] [| 1.; 3.; 6.; 4.; 9.; 15. |] (a.CumSum 1)
            Check.exact "dim 0" [| 2; 3 |] [| 1.; 2.; 3.; 5.; 7.; 9. |] (a.CumSum 0)
            // Σ_i w_i·cumsum_i with w = [1, 10, 100]: a_j counts in every i ≥ j: [111, 110, 100]
            let w = v [ 1.; 10.; 100. ]
            Check.exact "adjoint" [| 3 |] [| 111.; 110.; 100. |] (grad (fun x -> (x.CumSum 0 * w).Sum()) (v [ 7.; 8.; 9. ]))
        }
        test "variance and standard deviation" {
            // [1, 2, 3, 4]: mean 2.5, deviations ±1.5, ±0.5, Σd² = 2.25 + 0.25 + 0.25 + 2.25 = 5
            let x = v [ 1.; 2.; 3.; 4. ]
            Check.close "unbiased var 5/3" 1e-15 0.0 [| 5.0 / 3.0 |] (x.Var().ToArray())
            Check.exact "biased var 5/4" [||] [| 1.25 |] (x.Var(false))
            Check.close "std √(5/3)" 1e-15 0.0 [| sqrt (5.0 / 3.0) |] (x.Std().ToArray())
            // ∂var/∂x = 2d/(n − 1) = 2·[−1.5, −0.5, 0.5, 1.5]/3 = [−1, −1/3, 1/3, 1]
            Check.close "∂var" 1e-15 0.0 [| -1.0; -1.0 / 3.0; 1.0 / 3.0; 1.0 |] ((grad (fun x -> x.Var()) x).ToArray())
            // rows [1, 2, 3] and [2, 4, 6]: Σd² = 2 and 8, over n − 1 = 2: variances 1 and 4, deviations 1 and 2
            let rows = Tensor.OfArray [| [| 1.; 2.; 3. |]; [| 2.; 4.; 6. |] |]
            Check.exact "var dim 1" [| 2 |] [| 1.; 4. |] (rows.Var 1)
            Check.exact "std dim 1 keep" [| 2; 1 |] [| 1.; 2. |] (rows.Std(1, true))
        }
        test "std's gradient where all entries are equal is 0, as PyTorch's" {
            // √ of a variance 0 has an infinite slope; the deviations are all 0, so PyTorch returns 0.
            Check.exact "constant slice" [| 3 |] [| 0.; 0.; 0. |] (grad (fun x -> x.Std()) (v [ 5.; 5.; 5. ]))
        }
        test "p-norms and their gradients" {
            // [3, −4]: 2-norm √(9 + 16) = 5, gradient x/5; 1-norm 7, gradient sign(x)
            let x = v [ 3.; -4. ]
            Check.exact "2-norm" [||] [| 5. |] (x.Norm())
            Check.exact "∂ 2-norm" [| 2 |] [| 0.6; -0.8 |] (grad (fun x -> x.Norm()) x)
            Check.exact "1-norm" [||] [| 7. |] (x.Norm 1.0)
            Check.exact "∂ 1-norm" [| 2 |] [| 1.; -1. |] (grad (fun x -> x.Norm 1.0) x)
            // [1, 2]: 3-norm (1 + 8)^(1/3) = 9^(1/3); gradient |x|²·sign(x)/f² = [1, 4]/9^(2/3)
            let y = v [ 1.; 2. ]
            Check.close "3-norm" 1e-15 0.0 [| 9.0 ** (1.0 / 3.0) |] ((y.Norm 3.0).ToArray())
            Check.close "∂ 3-norm" 1e-15 0.0 [| 1.0 / 9.0 ** (2.0 / 3.0); 4.0 / 9.0 ** (2.0 / 3.0) |] ((grad (fun x -> x.Norm 3.0) y).ToArray())
            // rows [3, 4] and [0, 0]: norms 5 and 0; the zero row's gradient is 0, not 0/0
            let rows = Tensor.OfArray [| [| 3.; 4. |]; [| 0.; 0. |] |]
            Check.exact "norm dim 1" [| 2 |] [| 5.; 0. |] (rows.Norm(2.0, 1))
            Check.exact "∂ norm dim 1" [| 2; 2 |] [| 0.6; 0.8; 0.; 0. |] (grad (fun x -> x.Norm(2.0, 1).Sum()) rows)
        }
        test "the norm's gradient at the zero vector is 0 for every p, in both modes and at second order" {
            let zero = Tensor.Zeros [| 3 |]
            for p in [ 1.0; 1.5; 2.0; 3.0 ] do
                Check.exact (sprintf "p=%g reverse" p) [| 3 |] [| 0.; 0.; 0. |] (grad (fun x -> x.Norm p) zero)
                Check.exact (sprintf "p=%g forward" p) [||] [| 0. |] (snd (Ad.jvp (fun x -> x.Norm p) zero (v [ 1.; 2.; 3. ])))
            // The masked division keeps the next order free of NaN too: H·v of ‖x‖ at 0 under the same choice is 0.
            Check.exact "p=2 hvp" [| 3 |] [| 0.; 0.; 0. |] (Ad.hvp (fun x -> x.Norm()) zero (v [ 1.; 2.; 3. ]))
        }
    ]

[<Tests>]
let secondOrder =
    testList "Autodiff/reductions: Hessian-vector products" [
        test "prod, norm, var, std and min against finite differences of the gradient" {
            let x = Check.uniform 31 0.5 1.5 [| 2; 3 |]
            let dir = Check.uniform 32 -1.0 1.0 [| 2; 3 |]
            let w = Check.uniform 33 -1.0 1.0 [| 2 |]
            hvpMatchesFiniteDifferences "prod" (fun x -> (x.Prod 1 * w).Sum()) x dir
            hvpMatchesFiniteDifferences "norm p=3" (fun x -> (x.Norm(3.0, 1) * w).Sum()) x dir
            hvpMatchesFiniteDifferences "var" (fun x -> (x.Var 1 * w).Sum() + x.Var() * x.Sum()) x dir
            hvpMatchesFiniteDifferences "std" (fun x -> (x.Std 1 * w).Sum()) x dir
            hvpMatchesFiniteDifferences "min of squares" (fun x -> ((x * x).Min 0 * x.Sum()).Sum()) x dir
        }
    ]

[<Tests>]
let edges =
    testList "Autodiff/reductions: infinite adjoints" [
        test "max and min route an infinite adjoint to their entry and leave 0, not NaN, elsewhere (as PyTorch)" {
            // √ of a maximum 0 has slope +∞; a 0/1 mask would make the other entry ∞·0 = NaN.
            let g = grad (fun x -> sqrt (x.Max 0)) (v [ 0.; -1. ])
            Expect.equal (g.ToArray()) [| infinity; 0.0 |] "max along a dimension"
            let g = grad (fun x -> sqrt (x.Max())) (v [ -1.; 0.; -2. ])
            Expect.equal (g.ToArray()) [| 0.0; infinity; 0.0 |] "max of all"
            // min of [−1, 0] is −1; √(min + 1) = √0
            let g = grad (fun x -> (sqrt (x.Min(0, true) + 1.0)).Sum()) (v [ -1.; 0. ])
            Expect.equal (g.ToArray()) [| infinity; 0.0 |] "min along a dimension"
        }
    ]

[<Tests>]
let badInput =
    testList "Autodiff/reductions: bad input names the op, the shape and the value" [
        test "empty, too short or out-of-range reductions" {
            Check.throwsWith [ "min"; "empty dimension 0"; "(0,)" ] (fun () -> (Tensor.Zeros [| 0 |]).Min())
            Check.throwsWith [ "var"; "at least 2 entries"; "(2, 1)"; "dimension 1" ] (fun () -> (Tensor.Zeros [| 2; 1 |]).Var 1)
            Check.throwsWith [ "std"; "at least 2 entries"; "(1,)" ] (fun () -> (Tensor.Zeros [| 1 |]).Std())
            Check.throwsWith [ "var"; "at least 1 entries"; "(0,)" ] (fun () -> (Tensor.Zeros [| 0 |]).Var(false))
            Check.throwsWith [ "norm"; "p must be finite and at least 1"; "0.5" ] (fun () -> (Tensor.Ones [| 2 |]).Norm 0.5)
            Check.throwsWith [ "norm"; "got Infinity" ] (fun () -> (Tensor.Ones [| 2 |]).Norm infinity)
            Check.throwsWith [ "cumsum"; "dimension 2"; "rank 2" ] (fun () -> (Tensor.Ones [| 2; 2 |]).CumSum 2)
            Check.throwsWith [ "prod"; "dimension -3"; "rank 2" ] (fun () -> (Tensor.Ones [| 2; 2 |]).Prod -3)
        }
    ]
