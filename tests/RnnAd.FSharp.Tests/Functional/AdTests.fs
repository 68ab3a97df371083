module RnnAd.FSharp.Tests.Functional.AdTests

open RnnAd
open System.Threading
open System.Threading.Tasks
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Tests

let private scalar (t: Tensor) = t.ToScalar()

[<Tests>]
let basics =
    testList "Functional/basics" [
        test "grad of Σx² is 2x, and the value comes with it" {
            let x = Tensor.OfArray [| 1.0; -2.0; 3.0 |]
            let v, g = Ad.valueAndGrad (fun x -> (x * x).Sum()) x
            Expect.equal (scalar v) 14.0 "value 1 + 4 + 9"
            Check.exact "gradient" [| 3 |] [| 2.0; -4.0; 6.0 |] g
        }
        test "a function that ignores its input has zero gradient and zero tangent" {
            let x = Tensor.OfArray [| 1.0; 2.0 |]
            Check.exact "grad" [| 2 |] [| 0.0; 0.0 |] (Ad.grad (fun _ -> Tensor.Scalar 5.0) x)
            let y, t = Ad.jvp (fun _ -> Tensor.Ones [| 3 |]) x (Tensor.Ones [| 2 |])
            Check.exact "value" [| 3 |] [| 1.; 1.; 1. |] y
            Check.exact "tangent" [| 3 |] [| 0.; 0.; 0. |] t
        }
        test "grad rejects a function with several outputs, naming the shape" {
            Check.throwsWith [ "grad"; "(2,)" ] (fun () -> Ad.grad id (Tensor.Ones [| 2 |]))
            Check.throwsWith [ "jvp"; "(3,)"; "(2,)" ] (fun () -> Ad.jvp id (Tensor.Ones [| 2 |]) (Tensor.Ones [| 3 |]))
        }
        test "a pullback can be reused: the Jacobian of x ↦ A·x is A" {
            let a = Tensor.OfArray [| [| 1.; 2.; 3. |]; [| 4.; 5.; 6. |] |]
            let j = Ad.jacobian (fun x -> a.MatMul(x.Reshape [| 3; 1 |]).Reshape [| 2 |]) (Tensor.Zeros [| 3 |])
            Check.exact "jacobian" [| 2; 3 |] (a.ToArray()) j
        }
        test "stopGradient cuts the derivative" {
            let g = Ad.grad (fun x -> (x * Ad.stopGradient x).Sum()) (Tensor.OfArray [| 3.0 |])
            Check.exact "d/dx [x · const(x)] = x" [| 1 |] [| 3.0 |] g
        }
        test "named parameters: gradients keep names, order and shapes" {
            let ps = NamedTensors.ofList [ "w", Tensor.OfArray [| [| 1.; 2. |] |]; "b", Tensor.Scalar 0.5 ]
            let loss (p: NamedTensors) = (p.["w"] * p.["w"]).Sum() * p.["b"]
            let g = Ad.Named.grad loss ps
            Expect.equal g.Names [| "w"; "b" |] "names in order"
            // ∂/∂w = 2wb = [1, 2]; ∂/∂b = Σw² = 5
            Check.exact "dw" [| 1; 2 |] [| 1.; 2. |] g.["w"]
            Check.exact "db" [||] [| 5. |] g.["b"]
        }
    ]

[<Tests>]
let nesting =
    testList "Functional/nesting" [
        test "perturbation confusion, reverse over reverse: d/dx [x · d/dy (x·y)] = 2x" {
            let outer (x: Tensor) = x * Ad.grad (fun y -> (x * y).Sum()) (Tensor.Scalar 3.0)
            Expect.equal (scalar (Ad.grad (fun x -> (outer x).Sum()) (Tensor.Scalar 1.5))) 3.0 "2 · 1.5"
        }
        test "perturbation confusion, forward over forward: D(x ↦ x · D(y ↦ x + y)(1))(1) = 1" {
            // The inner derivative is 1 whatever x is; a confused implementation returns 2.
            let inner (x: Tensor) = snd (Ad.jvp (fun y -> x + y) (Tensor.Scalar 1.0) (Tensor.Scalar 1.0))
            let _, d = Ad.jvp (fun x -> x * inner x) (Tensor.Scalar 1.0) (Tensor.Scalar 1.0)
            Expect.equal (scalar d) 1.0 "inner derivative does not leak into the outer one"
        }
        test "mixed nesting: forward over reverse and reverse over forward agree with 2x" {
            let innerGrad (x: Tensor) = Ad.grad (fun y -> (x * y).Sum()) (Tensor.Scalar 3.0)
            let _, fwd = Ad.jvp (fun x -> x * innerGrad x) (Tensor.Scalar 1.5) (Tensor.Scalar 1.0)
            Expect.equal (scalar fwd) 3.0 "forward over reverse"
            let innerTangent (x: Tensor) = snd (Ad.jvp (fun y -> x * y) (Tensor.Scalar 3.0) (Tensor.Scalar 1.0))
            Expect.equal (scalar (Ad.grad (fun x -> x * innerTangent x) (Tensor.Scalar 1.5))) 3.0 "reverse over forward"
        }
        test "second and third derivatives of a scalar function" {
            // f = x⁴: f' = 4x³, f'' = 12x², f''' = 24x; at x = 2: 32, 48, 48
            let d f = fun x -> Ad.grad f x
            let f (x: Tensor) = (x ** 4.0).Sum()
            let x = Tensor.Scalar 2.0
            Expect.equal (scalar (d f x)) 32.0 "f'"
            Expect.equal (scalar (d (fun x -> (d f x).Sum()) x)) 48.0 "f''"
            Expect.equal (scalar (d (fun x -> (d (fun x -> (d f x).Sum()) x).Sum()) x)) 48.0 "f'''"
        }
        test "hvp agrees with finite differences of the gradient and with the Hessian from reverse over reverse" {
            let w = Check.uniform 5 -1.0 1.0 [| 3; 4 |]
            let f (x: Tensor) = (tanh (w.MatMul(x.Reshape [| 4; 1 |])) ** 2.0).Sum() + ((x * x).Sum() ** 3.0) * 0.01 + exp(x * 0.5).Sum()
            let x = Check.uniform 6 -1.0 1.0 [| 4 |]
            let v = Check.uniform 7 -1.0 1.0 [| 4 |]
            let hv = Ad.hvp f x v
            let h = 1e-5
            let fd = ((Ad.grad f (x + h * v)) - (Ad.grad f (x - h * v))) / (2.0 * h)
            // FD of a gradient: truncation O(h²) ≈ 1e-10 and rounding ε|∇f|/h ≈ 1e-11.
            Check.close "H·v vs finite differences of ∇f" 1e-6 1e-8 (fd.ToArray()) (hv.ToArray())
            let hessian = Ad.jacobian (Ad.grad f) x
            Check.close "H·v vs Hessian·v" 1e-12 1e-14 ((hessian.MatMul(v.Reshape [| 4; 1 |])).ToArray()) (hv.ToArray())
        }
        test "hvp over named parameters" {
            let ps = NamedTensors.ofList [ "a", Tensor.OfArray [| 1.0; 2.0 |]; "b", Tensor.Scalar 3.0 ]
            let vs = NamedTensors.ofList [ "a", Tensor.OfArray [| 1.0; 0.0 |]; "b", Tensor.Scalar 1.0 ]
            // f = b·Σa²: ∂²f/∂a² = 2b·I, ∂²f/∂a∂b = 2a, ∂²f/∂b² = 0
            // H·v: for a = 2b·va + 2a·vb = [6 + 2, 0 + 4]; for b = 2a·va = 2
            let hv = Ad.Named.hvp (fun p -> p.["b"] * (p.["a"] * p.["a"]).Sum()) ps vs
            Check.exact "a" [| 2 |] [| 8.0; 4.0 |] hv.["a"]
            Check.exact "b" [||] [| 2.0 |] hv.["b"]
        }
    ]

/// Shape-preserving steps on a (3, 4) tensor, composed at random by the property below.
let private steps : (Tensor -> Tensor)[] =
    let w = Check.uniform 11 -1.0 1.0 [| 4; 4 |]
    let b = Check.uniform 12 -1.0 1.0 [| 4 |]
    [| tanh
       (fun x -> x.Sigmoid())
       (fun x -> x * x)
       (fun x -> exp (x * 0.3))
       (fun x -> log (1.0 + x * x))
       (fun x -> x.MatMul w)
       (fun x -> Tensor.MatMul(x, w, transB = true) + b)
       (fun x -> x - x.LogSumExp(1, true))
       (fun x -> Tensor.Concat([ x.Slice(1, 1, 3); x.Slice(1, 0, 1) ], 1))
       (fun x -> (x.T * 2.0).T)
       (fun x -> x * x.Max(1, true))
       (fun x -> sqrt (1.0 + x * x))
       (fun x -> x.Flip 0 / (1.0 + x.Sum()))
       (fun x -> x - x.Mean(0, true))
       (fun x -> x.GatherRows([| 2; 0; 1 |], [| 3 |]))
       (fun x -> x / 2.0 - 1.0) |]

[<Tests>]
let adjointIdentity =
    testList "Functional/adjoint identity" [
        testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 200 } "⟨u, J·v⟩ = ⟨Jᵀ·u, v⟩ on random compositions" <| fun (seed: int) ->
            let rng = System.Random(seed)
            let chain = Array.init (rng.Next(1, 7)) (fun _ -> steps.[rng.Next steps.Length])
            let f x = Array.fold (fun acc step -> step acc) x chain
            let x = Check.uniform seed -1.0 1.0 [| 3; 4 |]
            let v = Check.uniform (seed + 1) -1.0 1.0 [| 3; 4 |]
            let u = Check.uniform (seed + 2) -1.0 1.0 [| 3; 4 |]
            let _, jv = Ad.jvp f x v
            let _, pull = Ad.vjp f x
            let jtu = pull u
            let lhs = scalar ((u * jv).Sum())
            let rhs = scalar ((jtu * v).Sum())
            // Both sides are the same bilinear form rounded differently: the error is a few ε times the
            // magnitudes ‖u‖‖Jv‖ + ‖Jᵀu‖‖v‖, so 1e-12 of that scale leaves a wide margin over 2.2e-16.
            let norm (t: Tensor) = sqrt (scalar ((t * t).Sum()))
            let scale = norm u * norm jv + norm jtu * norm v
            abs (lhs - rhs) <= 1e-12 * scale
    ]

[<Tests>]
let robustness =
    testList "Functional/robustness" [
        test "a 10,000-step tanh recurrence differentiates without stack overflow, and its gradient is right" {
            let xs = (Check.uniform 21 -1.0 1.0 [| 10000 |]).ToArray()
            let run (w: Tensor) =
                let mutable h = Tensor.Scalar 0.0
                for t in 0 .. xs.Length - 1 do
                    h <- tanh (w * h + xs.[t])
                h
            let w0 = Tensor.Scalar 0.9
            let g = Ad.grad run w0
            let fd = Check.finiteDifference (fun ws -> scalar (run ws.[0])) [| w0 |] 0
            Check.close "∂h_T/∂w" 1e-6 1e-8 fd (g.ToArray())
        }
        test "differentiation from several threads at once gives the same bits as serially" {
            let f (x: Tensor) = (tanh (x * x) * Ad.grad (fun y -> (x * y * y).Sum()) x).Sum()
            let inputs = Array.init 16 (fun i -> Check.uniform (100 + i) -1.0 1.0 [| 20 |])
            let serial = inputs |> Array.map (fun x -> (Ad.grad f x).ToArray())
            let concurrent = Array.zeroCreate inputs.Length
            Parallel.For(0, inputs.Length, ParallelOptions(MaxDegreeOfParallelism = 4), fun i ->
                for _ in 1 .. 20 do
                    concurrent.[i] <- (Ad.grad f inputs.[i]).ToArray()
                Thread.Yield() |> ignore) |> ignore
            Expect.equal concurrent serial "same gradients"
        }
    ]
