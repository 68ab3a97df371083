module RnnAd.FSharp.Tests.Autodiff.OpGradientTests

open RnnAd
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Storage
open RnnAd.FSharp.Tests

// Every differentiable op, in reverse and in forward mode, against centred finite differences in float64.
// Each op is reduced to a scalar by a fixed random weighting of its output, L = Σ w ⊙ f(x), so that every
// output entry matters with a different weight.
//
// Tolerance: entry-wise |AD − FD| ≤ 1e-6·max(|AD|, |FD|) + 1e-8. The relative part is the issue's bound;
// finite differences with step h = 1e-6 carry a truncation error O(h²·f''') ≈ 1e-12 and a rounding error
// ≈ ε·|L|/h ≈ 2e-10·|L|, which for the |L| ≲ 50 of these cases stays below the 1e-8 absolute floor that
// keeps entries whose true gradient is 0 from failing on rounding noise.

type private Case = { Name: string; Inputs: Tensor[]; F: Tensor[] -> Tensor }

let private case name inputs f = { Name = name; Inputs = inputs; F = f }

let private u seed shape = Check.uniform seed -2.0 2.0 shape
let private positive seed shape = Check.uniform seed 0.5 2.0 shape
let private away seed shape = Check.awayFromZero seed 0.2 shape

/// Shapes every unary op is tried on: a scalar, a vector, a rank-3 tensor.
let private unaryShapes = [ [||]; [| 5 |]; [| 2; 3; 4 |] ]

/// Every broadcasting pattern a binary op meets: equal, scalar either side, a trailing suffix, leading
/// ones, an outer product, a middle broadcast, and a rank mismatch combined with a broadcast.
let private broadcastPairs =
    [ [| 2; 3 |], [| 2; 3 |]
      [| 2; 3 |], [||]
      [||], [| 3; 2 |]
      [| 2; 3; 4 |], [| 4 |]
      [| 3; 4 |], [| 2; 3; 4 |]
      [| 1; 4 |], [| 3; 4 |]
      [| 3; 1 |], [| 1; 4 |]
      [| 2; 1; 4 |], [| 1; 3; 1 |]
      [| 4 |], [| 2; 3; 1 |] ]

let private unaryCases =
    [ for shape in unaryShapes do
        let s = Shape.format shape
        case ("neg " + s) [| u 1 shape |] (fun x -> -x.[0])
        case ("exp " + s) [| u 2 shape |] (fun x -> exp x.[0])
        case ("log " + s) [| positive 3 shape |] (fun x -> log x.[0])
        case ("tanh " + s) [| u 4 shape |] (fun x -> tanh x.[0])
        case ("sqrt " + s) [| positive 5 shape |] (fun x -> sqrt x.[0])
        case ("abs " + s) [| away 6 shape |] (fun x -> abs x.[0])
        case ("sigmoid " + s) [| u 7 shape |] (fun x -> x.[0].Sigmoid())
        case ("relu " + s) [| away 8 shape |] (fun x -> x.[0].Relu())
        case ("clamp " + s) [| away 9 shape |] (fun x -> x.[0].Clamp(-0.1, 0.1))
        case ("pow 3 " + s) [| u 10 shape |] (fun x -> x.[0] ** 3.0)
        case ("pow 0.5 " + s) [| positive 11 shape |] (fun x -> x.[0] ** 0.5)
        case ("sum " + s) [| u 12 shape |] (fun x -> x.[0].Sum())
        case ("mean " + s) [| u 13 shape |] (fun x -> x.[0].Mean())
        case ("max " + s) [| u 14 shape |] (fun x -> x.[0].Max())
        case ("scalar arithmetic " + s) [| positive 15 shape |] (fun x -> 2.0 - 3.0 * x.[0] + x.[0] / 4.0 - 1.5 / x.[0])
        case ("sin " + s) [| u 16 shape |] (fun x -> sin x.[0])
        case ("cos " + s) [| u 17 shape |] (fun x -> cos x.[0])
        case ("log1p " + s) [| Check.uniform 18 -0.9 2.0 shape |] (fun x -> x.[0].Log1p())
        case ("expm1 " + s) [| u 19 shape |] (fun x -> x.[0].Expm1())
        case ("erf " + s) [| u 20 shape |] (fun x -> x.[0].Erf())
        case ("reciprocal " + s) [| away 91 shape |] (fun x -> x.[0].Reciprocal())
        case ("square " + s) [| u 92 shape |] (fun x -> x.[0].Square())
        case ("sign " + s) [| away 93 shape |] (fun x -> x.[0].Sign() * x.[0])
        case ("softplus " + s) [| u 94 shape |] (fun x -> x.[0].Softplus())
        // Both sides of softplus's threshold at 20, where its derivative steps from σ(x) to 1.
        case ("softplus around 20 " + s) [| Check.uniform 95 15.0 25.0 shape |] (fun x -> x.[0].Softplus())
        case ("gelu " + s) [| Check.uniform 96 -4.0 4.0 shape |] (fun x -> x.[0].Gelu())
        case ("silu " + s) [| Check.uniform 97 -4.0 4.0 shape |] (fun x -> x.[0].Silu())
        case ("elu " + s) [| away 98 shape |] (fun x -> x.[0].Elu 1.3)
        case ("leakyRelu " + s) [| away 99 shape |] (fun x -> x.[0].LeakyRelu 0.1) ]

let private binaryCases =
    [ for (sa, sb) in broadcastPairs do
        let s = Shape.format sa + " " + Shape.format sb
        case ("add " + s) [| u 21 sa; u 22 sb |] (fun x -> x.[0] + x.[1])
        case ("sub " + s) [| u 23 sa; u 24 sb |] (fun x -> x.[0] - x.[1])
        case ("mul " + s) [| u 25 sa; u 26 sb |] (fun x -> x.[0] * x.[1])
        case ("div " + s) [| u 27 sa; positive 28 sb |] (fun x -> x.[0] / x.[1])
        case ("pow " + s) [| positive 29 sa; u 30 sb |] (fun x -> x.[0] ** x.[1])
        case ("maximum " + s) [| u 34 sa; u 35 sb |] (fun x -> Tensor.Maximum(x.[0], x.[1]))
        case ("minimum " + s) [| u 36 sa; u 37 sb |] (fun x -> Tensor.Minimum(x.[0], x.[1]))
        case ("where " + s) [| u 31 sa; u 32 sb |] (fun x ->
            let mask = (Check.uniform 33 -1.0 1.0 (Shape.broadcast "test" sa sb)).Value |> Elementwise.positiveMask
            Tensor.Where(mask, x.[0], x.[1])) ]

let private dimCases =
    let t = [| 2; 3; 4 |]
    [ for dim in [ 0; 1; -1 ] do
        for keep in [ false; true ] do
            let s = sprintf "dim %d keep %b" dim keep
            case ("sum " + s) [| u 41 t |] (fun x -> x.[0].Sum(dim, keep))
            case ("mean " + s) [| u 42 t |] (fun x -> x.[0].Mean(dim, keep))
            case ("max " + s) [| u 43 t |] (fun x -> x.[0].Max(dim, keep))
            case ("logSumExp " + s) [| u 44 t |] (fun x -> x.[0].LogSumExp(dim, keep)) ]

let private shapingCases =
    let t = [| 2; 3; 4 |]
    [ case "reshape" [| u 51 t |] (fun x -> x.[0].Reshape [| 4; -1 |])
      case "permute" [| u 52 t |] (fun x -> x.[0].Permute [| 2; 0; 1 |])
      case "transpose" [| u 53 t |] (fun x -> x.[0].Transpose(0, 2))
      case "matrix T" [| u 54 [| 3; 5 |] |] (fun x -> x.[0].T)
      case "slice" [| u 55 t |] (fun x -> x.[0].Slice(1, 1, 2))
      case "select" [| u 56 t |] (fun x -> x.[0].Select(2, 3))
      case "unsqueeze/squeeze" [| u 57 t |] (fun x -> x.[0].Unsqueeze(1).Squeeze(1) * x.[0].Unsqueeze(-1).Squeeze(-1))
      case "flip" [| u 58 t |] (fun x -> x.[0].Flip 1)
      case "concat of three" [| u 59 [| 2; 1; 4 |]; u 60 [| 2; 3; 4 |]; u 61 [| 2; 2; 4 |] |] (fun x -> Tensor.Concat(x, 1))
      case "concat with a constant" [| u 62 [| 2; 3 |] |] (fun x -> Tensor.Concat([ x.[0]; Tensor.Ones [| 2; 3 |] ], 0))
      case "stack" [| u 63 [| 3; 2 |]; u 64 [| 3; 2 |] |] (fun x -> Tensor.Stack(x, 1))
      case "split" [| u 65 t |] (fun x -> let p = x.[0].Split([| 1; 3 |], 2) in p.[0] * p.[1])
      case "chunk" [| u 66 t |] (fun x -> let p = x.[0].Chunk(2, -1) in p.[0] - p.[1] * p.[1])
      case "broadcastTo" [| u 67 [| 3; 1 |] |] (fun x -> x.[0].BroadcastTo [| 2; 3; 4 |])
      case "sumToShape" [| u 68 t |] (fun x -> x.[0].SumToShape [| 3; 1 |]) ]

let private indexingCases =
    [ case "gatherRows (embedding, repeated rows)" [| u 71 [| 5; 3 |] |] (fun x -> x.[0].GatherRows([| 4; 0; 4; 2; 1; 4 |], [| 2; 3 |]))
      case "scatterAddRows" [| u 72 [| 2; 3; 3 |] |] (fun x -> x.[0].ScatterAddRows(4, [| 3 |], [| 3; 1; 3; 0; 0; 2 |]))
      case "gatherLast (class picking)" [| u 73 [| 2; 3; 5 |] |] (fun x -> x.[0].GatherLast [| 0; 4; 2; 2; 1; 3 |])
      case "scatterLast" [| u 74 [| 2; 3 |] |] (fun x -> x.[0].ScatterLast(4, [| 0; 3; 3; 1; 2; 0 |])) ]

let private matmulCases =
    [ for ta in [ false; true ] do
        for tb in [ false; true ] do
            let a2 = if ta then [| 4; 3 |] else [| 3; 4 |]
            let b2 = if tb then [| 5; 4 |] else [| 4; 5 |]
            case (sprintf "matmul transA=%b transB=%b" ta tb) [| u 81 a2; u 82 b2 |] (fun x -> Tensor.MatMul(x.[0], x.[1], ta, tb))
            case (sprintf "batched matmul transA=%b transB=%b" ta tb) [| u 83 (Array.append [| 2 |] a2); u 84 (Array.append [| 2 |] b2) |] (fun x -> Tensor.MatMul(x.[0], x.[1], ta, tb))
      case "sequence (B,T,I) · matrix (I,H)" [| u 85 [| 2; 3; 4 |]; u 86 [| 4; 5 |] |] (fun x -> x.[0].MatMul x.[1])
      case "sequence · matrixᵀ (PyTorch's x Wᵀ)" [| u 87 [| 2; 3; 4 |]; u 88 [| 5; 4 |] |] (fun x -> Tensor.MatMul(x.[0], x.[1], transB = true)) ]

let private allCases = unaryCases @ binaryCases @ dimCases @ shapingCases @ indexingCases @ matmulCases

let private named (xs: Tensor[]) = NamedTensors(xs |> Array.mapi (fun i x -> sprintf "x%d" i, x))

let private weightedLoss (c: Case) =
    let w = Check.uniform 1234 -1.0 1.0 (c.F c.Inputs).Shape
    fun (xs: Tensor[]) -> (c.F xs * w).Sum()

let private reverseMatchesFiniteDifferences (c: Case) =
    let loss = weightedLoss c
    let grads = Ad.Named.grad (fun p -> loss p.Tensors) (named c.Inputs)
    c.Inputs |> Array.iteri (fun i _ ->
        let fd = Check.finiteDifference (fun xs -> (loss xs).ToScalar()) c.Inputs i
        Check.close (sprintf "%s: ∂L/∂x%d" c.Name i) 1e-6 1e-8 fd (grads.Tensors.[i].ToArray()))

let private forwardMatchesFiniteDifferences (c: Case) =
    let loss = weightedLoss c
    let vs = c.Inputs |> Array.mapi (fun i x -> Check.uniform (500 + i) -1.0 1.0 x.Shape)
    let _, jv = Ad.Named.jvp (fun p -> loss p.Tensors) (named c.Inputs) (named vs)
    let h = 1e-6
    let along (s: float) = (loss (Array.map2 (fun (x: Tensor) (v: Tensor) -> x + s * h * v) c.Inputs vs)).ToScalar()
    Check.close (c.Name + ": J·v") 1e-6 1e-8 [| (along 1.0 - along -1.0) / (2.0 * h) |] (jv.ToArray())

[<Tests>]
let tests =
    testList "Autodiff/op gradients vs finite differences" [
        testList "reverse mode" [ for c in allCases -> test c.Name { reverseMatchesFiniteDifferences c } ]
        testList "forward mode" [ for c in allCases -> test c.Name { forwardMatchesFiniteDifferences c } ]
    ]
