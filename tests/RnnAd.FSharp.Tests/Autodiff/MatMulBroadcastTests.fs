module RnnAd.FSharp.Tests.Autodiff.MatMulBroadcastTests

open RnnAd
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Tests
open RnnAd.FSharp.Tests.Autodiff.OpChecks

// torch.matmul's shapes beyond matrices and equal batches: broadcast batch dimensions, vectors, and the
// adjoints that sum over the batch dimensions an operand was broadcast along.

let private u seed shape = Check.uniform seed -1.0 1.0 shape

let private cases =
    [ for name, sa, sb, ta, tb in
        [ "(2,3,4,5)·(5,6), rows of every batch at once", [| 2; 3; 4; 5 |], [| 5; 6 |], false, false
          "(2,3,4,5)·(6,5)ᵀ", [| 2; 3; 4; 5 |], [| 6; 5 |], false, true
          "(2,1,4,5)·(3,5,6), both broadcast", [| 2; 1; 4; 5 |], [| 3; 5; 6 |], false, false
          "(4,5)·(2,3,5,6), a matrix against a batch", [| 4; 5 |], [| 2; 3; 5; 6 |], false, false
          "(1,4,5)·(3,5,6), a batch of one", [| 1; 4; 5 |], [| 3; 5; 6 |], false, false
          "(2,1,5,4)ᵀ·(3,6,5)ᵀ", [| 2; 1; 5; 4 |], [| 3; 6; 5 |], true, true
          "(2,3,5,4)ᵀ·(5,6), a transposed batch against a matrix", [| 2; 3; 5; 4 |], [| 5; 6 |], true, false
          "(3,5,4)ᵀ·(1,5,6)", [| 3; 5; 4 |], [| 1; 5; 6 |], true, false
          "vector·matrix", [| 5 |], [| 5; 6 |], false, false
          "vector·matrixᵀ", [| 5 |], [| 6; 5 |], false, true
          "matrix·vector", [| 4; 5 |], [| 5 |], false, false
          "matrixᵀ·vector", [| 5; 4 |], [| 5 |], true, false
          "vector·vector", [| 5 |], [| 5 |], false, false
          "batch·vector", [| 2; 3; 4; 5 |], [| 5 |], false, false
          "vector·batch", [| 5 |], [| 2; 5; 6 |], false, false ] do
        opCase name [| u 81 sa; u 82 sb |] (fun x -> Tensor.MatMul(x.[0], x.[1], ta, tb)) ]

[<Tests>]
let derivatives = opTests "Autodiff/broadcast matmul: derivatives" cases

[<Tests>]
let values =
    testList "Autodiff/broadcast matmul: values by hand" [
        test "(2,1,2,2)·(3,2,2): every matrix of a meets every matrix of b" {
            // A0 = I, A1 = 2I; B0 = [[1,0],[0,0]], B1 = [[0,1],[0,0]], B2 = [[0,0],[1,1]]: A_i·B_j = (i+1)·B_j
            let a = Tensor.OfArray([| 2; 1; 2; 2 |], [| 1.; 0.; 0.; 1.; 2.; 0.; 0.; 2. |])
            let b = Tensor.OfArray([| 3; 2; 2 |], [| 1.; 0.; 0.; 0.; 0.; 1.; 0.; 0.; 0.; 0.; 1.; 1. |])
            let expected = [| 1.; 0.; 0.; 0.; 0.; 1.; 0.; 0.; 0.; 0.; 1.; 1.; 2.; 0.; 0.; 0.; 0.; 2.; 0.; 0.; 0.; 0.; 2.; 2. |]
            Check.exact "product" [| 2; 3; 2; 2 |] expected (a.MatMul b)
            // ∂Σ/∂A_i = Σ_j 1·B_jᵀ: entry (r, c) is Σ_j (row c of B_j summed) = (1 + 1 + 0, 0 + 0 + 2) = 2 everywhere
            Check.exact "a's adjoint sums over the three B_j" [| 2; 1; 2; 2 |] (Array.create 8 2.0) (Ad.grad (fun a -> a.MatMul(b).Sum()) a)
            // ∂Σ/∂B_j = Σ_i A_iᵀ·1 = (I + 2I)·1 = 3 everywhere
            Check.exact "b's adjoint sums over the two A_i" [| 3; 2; 2 |] (Array.create 12 3.0) (Ad.grad (fun b -> a.MatMul(b).Sum()) b)
        }
        test "vectors: dot product, matrix·vector and vector·matrix" {
            let m = Tensor.OfArray [| [| 1.; 2. |]; [| 3.; 4. |] |]
            // 1·4 + 2·5 + 3·6 = 32
            Check.exact "dot" [||] [| 32. |] ((Tensor.OfArray [| 1.; 2.; 3. |]).MatMul(Tensor.OfArray [| 4.; 5.; 6. |]))
            // rows of m summed: [1 + 2, 3 + 4]
            Check.exact "matrix·vector" [| 2 |] [| 3.; 7. |] (m.MatMul(Tensor.OfArray [| 1.; 1. |]))
            // columns of m summed: [1 + 3, 2 + 4]
            Check.exact "vector·matrix" [| 2 |] [| 4.; 6. |] ((Tensor.OfArray [| 1.; 1. |]).MatMul m)
            // mᵀ·[1, 0] is m's first row: [1, 2]
            Check.exact "matrixᵀ·vector" [| 2 |] [| 1.; 2. |] (Tensor.MatMul(m, Tensor.OfArray [| 1.; 0. |], transA = true))
        }
        test "each matrix of a broadcast product has the bits of its own 2-D product" {
            let a = u 91 [| 2; 1; 4; 5 |]
            let b = u 92 [| 3; 5; 6 |]
            let product = Tensor.MatMul(a, b)
            Expect.equal product.Shape [| 2; 3; 4; 6 |] "shape"
            for i in 0 .. 1 do
                for j in 0 .. 2 do
                    let expected = (a.Select(0, i).Select(0, 0)).MatMul(b.Select(0, j))
                    Expect.equal (product.Select(0, i).Select(0, j).ToArray()) (expected.ToArray()) (sprintf "matrix (%d, %d)" i j)
        }
    ]

[<Tests>]
let secondOrder =
    testList "Autodiff/broadcast matmul: Hessian-vector products" [
        test "a broadcast product inside a non-linear function" {
            let b = u 95 [| 3; 5; 2 |]
            let x = u 96 [| 2; 1; 4; 5 |]
            let dir = u 97 [| 2; 1; 4; 5 |]
            hvpMatchesFiniteDifferences "tanh(x·b)²" (fun x -> (tanh (x.MatMul b) ** 2.0).Sum()) x dir
            hvpMatchesFiniteDifferences "(x·x₀ᵀ)², x on both sides" (fun x -> (Tensor.MatMul(x, x.Select(0, 0), transB = true) ** 2.0).Sum()) x dir
        }
    ]

[<Tests>]
let badInput =
    testList "Autodiff/broadcast matmul: bad input names the shapes" [
        test "batches that do not broadcast, inner dimensions, vectors with transpose flags, scalars" {
            Check.throwsWith [ "matmul"; "batch dimensions (2,) and (3,)"; "(2, 4, 5)"; "(3, 5, 6)" ] (fun () -> (Tensor.Zeros [| 2; 4; 5 |]).MatMul(Tensor.Zeros [| 3; 5; 6 |]))
            Check.throwsWith [ "matmul"; "inner dimensions 5 and 4"; "(2, 3, 4, 5)"; "(4, 6)" ] (fun () -> (Tensor.Zeros [| 2; 3; 4; 5 |]).MatMul(Tensor.Zeros [| 4; 6 |]))
            Check.throwsWith [ "matmul"; "inner dimensions 3 and 4"; "(3,)"; "(4, 2)" ] (fun () -> (Tensor.Zeros [| 3 |]).MatMul(Tensor.Zeros [| 4; 2 |]))
            Check.throwsWith [ "matmul"; "a has shape (3,)"; "vectors" ] (fun () -> Tensor.MatMul(Tensor.Zeros [| 3 |], Tensor.Zeros [| 3; 2 |], transA = true))
            Check.throwsWith [ "matmul"; "()"; "at least one dimension" ] (fun () -> (Tensor.Scalar 2.0).MatMul(Tensor.Zeros [| 2 |]))
        }
    ]
