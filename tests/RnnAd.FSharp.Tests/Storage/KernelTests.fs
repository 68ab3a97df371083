module RnnAd.FSharp.Tests.Storage.KernelTests

open RnnAd
open System
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Storage
open RnnAd.FSharp.Tests

// Every expected value here is worked out by hand in the comment beside it, never by calling the code.

let private m22 (a: float, b: float, c: float, d: float) = Tensor.OfArray [| [| a; b |]; [| c; d |] |]

[<Tests>]
let creation =
    testList "Storage/creation" [
        test "zeros, ones, full, scalar, eye, arange" {
            Check.exact "zeros" [| 2; 3 |] (Array.zeroCreate 6) (Tensor.Zeros [| 2; 3 |])
            Check.exact "full" [| 3 |] [| 7.5; 7.5; 7.5 |] (Tensor.Full([| 3 |], 7.5))
            Check.exact "scalar" [||] [| 2.0 |] (Tensor.Scalar 2.0)
            Check.exact "eye" [| 2; 2 |] [| 1.; 0.; 0.; 1. |] (Tensor.Eye 2)
            Check.exact "arange" [| 4 |] [| 1.0; 1.5; 2.0; 2.5 |] (Tensor.Arange(1.0, 3.0, 0.5))
            Check.exact "arange down" [| 3 |] [| 3.; 2.; 1. |] (Tensor.Arange(3.0, 0.0, -1.0))
        }
        test "from nested arrays, row-major" {
            Check.exact "2-D" [| 2; 3 |] [| 1.; 2.; 3.; 4.; 5.; 6. |] (Tensor.OfArray [| [| 1.; 2.; 3. |]; [| 4.; 5.; 6. |] |])
            let t = Tensor.OfArray [| [| [| 1.; 2. |] |]; [| [| 3.; 4. |] |] |]
            Check.exact "3-D" [| 2; 1; 2 |] [| 1.; 2.; 3.; 4. |] t
            Expect.equal t.[[| 1; 0; 1 |]] 4.0 "indexing"
        }
        test "ragged rows and wrong sizes are rejected with the shapes" {
            Check.throwsWith [ "row 1"; "2 values"; "row 0 has 3" ] (fun () -> Tensor.OfArray [| [| 1.; 2.; 3. |]; [| 4.; 5. |] |])
            Check.throwsWith [ "5 values"; "(2, 3)" ] (fun () -> Tensor.OfArray([| 2; 3 |], Array.zeroCreate 5))
            Check.throwsWith [ "negative" ] (fun () -> Tensor.Zeros [| 2; -1 |])
            // 65536² = 2³² wraps to 0 in 32-bit arithmetic; it must be refused, not become an empty tensor.
            Check.throwsWith [ "(65536, 65536)"; "more than" ] (fun () -> Tensor.Zeros [| 65536; 65536 |])
        }
        test "random tensors: same seed same bits, other seed other bits, right moments" {
            let a = Tensor.RandomNormal(7, [| 1000 |])
            let b = Tensor.RandomNormal(7, [| 1000 |])
            let c = Tensor.RandomNormal(8, [| 1000 |])
            Expect.equal (a.ToArray()) (b.ToArray()) "same seed"
            Expect.notEqual (a.ToArray()) (c.ToArray()) "other seed"
            // Mean of 1000 N(0,1) draws has standard error 0.032: |mean| < 0.15 is a 4.7σ bound.
            Expect.isLessThan (abs (Array.average (a.ToArray()))) 0.15 "mean near 0"
            let u = Tensor.RandomUniform(3, [| 1000 |], -2.0, 5.0).ToArray()
            Expect.isTrue (u |> Array.forall (fun v -> v >= -2.0 && v < 5.0)) "uniform within bounds"
        }
    ]

[<Tests>]
let elementwise =
    testList "Storage/elementwise" [
        test "broadcasting add: (2,1) + (1,3) and (2,3) + (3,)" {
            let col = Tensor.OfArray([| 2; 1 |], [| 10.; 20. |])
            let row = Tensor.OfArray([| 1; 3 |], [| 1.; 2.; 3. |])
            // [[10+1, 10+2, 10+3], [20+1, 20+2, 20+3]]
            Check.exact "outer" [| 2; 3 |] [| 11.; 12.; 13.; 21.; 22.; 23. |] (col + row)
            let m = Tensor.OfArray([| 2; 3 |], [| 1.; 2.; 3.; 4.; 5.; 6. |])
            Check.exact "bias row" [| 2; 3 |] [| 2.; 4.; 6.; 5.; 7.; 9. |] (m + Tensor.OfArray [| 1.; 2.; 3. |])
            // (2,1,2) * (3,1): out (2,3,2); element [i,j,k] = a[i,0,k] * b[j,0]
            let a = Tensor.OfArray([| 2; 1; 2 |], [| 1.; 2.; 3.; 4. |])
            let b = Tensor.OfArray([| 3; 1 |], [| 1.; 10.; 100. |])
            Check.exact "3-D general" [| 2; 3; 2 |] [| 1.; 2.; 10.; 20.; 100.; 200.; 3.; 4.; 30.; 40.; 300.; 400. |] (a * b)
        }
        test "incompatible shapes name the op and both shapes" {
            Check.throwsWith [ "add"; "(2, 3)"; "(2,)" ] (fun () -> Tensor.Zeros [| 2; 3 |] + Tensor.Zeros [| 2 |])
        }
        test "elementary functions at points known by hand" {
            let x = Tensor.OfArray [| 0.0; 1.0; -2.0; 4.0 |]
            Check.exact "relu" [| 4 |] [| 0.; 1.; 0.; 4. |] (x.Relu())
            Check.exact "abs" [| 4 |] [| 0.; 1.; 2.; 4. |] (abs x)
            Check.exact "clamp" [| 4 |] [| 0.; 1.; -1.; 1. |] (x.Clamp(-1.0, 1.0))
            Check.exact "square" [| 4 |] [| 0.; 1.; 4.; 16. |] (x ** 2.0)
            Check.exact "sigmoid(0)" [||] [| 0.5 |] ((Tensor.Scalar 0.0).Sigmoid())
            Check.exact "sqrt" [| 2 |] [| 2.; 3. |] (sqrt (Tensor.OfArray [| 4.; 9. |]))
            // σ(±800) must saturate to exactly 1 and 0, without overflow to NaN.
            Check.exact "sigmoid saturates" [| 2 |] [| 1.0; 0.0 |] ((Tensor.OfArray [| 800.; -800. |]).Sigmoid())
            // tanh(ln 2) = (2 − 1/2)/(2 + 1/2) = 0.6
            Check.close "tanh" 1e-15 0.0 [| 0.6 |] ((tanh (Tensor.Scalar(log 2.0))).ToArray())
        }
    ]

[<Tests>]
let reductions =
    testList "Storage/reductions" [
        let m = Tensor.OfArray [| [| 1.; 5.; 3. |]; [| 4.; 2.; 6. |] |]
        test "sum and mean, all and per dimension" {
            Check.exact "sum" [||] [| 21. |] (m.Sum())
            Check.exact "sum dim 0" [| 3 |] [| 5.; 7.; 9. |] (m.Sum 0)
            Check.exact "sum dim 1 keep" [| 2; 1 |] [| 9.; 12. |] (m.Sum(1, keepDim = true))
            Check.exact "mean dim -1" [| 2 |] [| 3.; 4. |] (m.Mean -1)
        }
        test "max and argmax, first index on ties" {
            Check.exact "max" [||] [| 6. |] (m.Max())
            Check.exact "max dim 1" [| 2 |] [| 5.; 6. |] (m.Max 1)
            Expect.equal (m.ArgMax 1) [| 1; 2 |] "argmax dim 1"
            Expect.equal (m.ArgMax 0) [| 1; 0; 1 |] "argmax dim 0"
            Expect.equal ((Tensor.OfArray [| 2.; 7.; 7.; 1. |]).ArgMax()) 1 "first of tied maxima"
        }
        test "log-sum-exp is exact and does not overflow" {
            // log(1 + 3) = ln 4
            Check.close "lse" 1e-15 0.0 [| log 4.0 |] (((Tensor.OfArray [| 0.0; log 3.0 |]).LogSumExp 0).ToArray())
            // 1000 + ln 2, where a naive exp would overflow
            Check.close "lse large" 1e-15 0.0 [| 1000.0 + log 2.0 |] (((Tensor.OfArray [| 1000.; 1000. |]).LogSumExp 0).ToArray())
        }
        test "sumToShape undoes broadcastTo by summing" {
            let v = Tensor.OfArray [| 1.; 2. |]
            let b = v.BroadcastTo [| 3; 2 |]
            Check.exact "broadcast" [| 3; 2 |] [| 1.; 2.; 1.; 2.; 1.; 2. |] b
            Check.exact "sum back" [| 2 |] [| 3.; 6. |] (b.SumToShape [| 2 |])
            Check.exact "sum to column" [| 3; 1 |] [| 3.; 3.; 3. |] (b.SumToShape [| 3; 1 |])
        }
    ]

[<Tests>]
let layout =
    testList "Storage/layout" [
        let m = Tensor.OfArray [| [| 1.; 2.; 3. |]; [| 4.; 5.; 6. |] |]
        test "transpose, permute, reshape" {
            Check.exact "T" [| 3; 2 |] [| 1.; 4.; 2.; 5.; 3.; 6. |] m.T
            let t = Tensor.Arange(0.0, 24.0).Reshape [| 2; 3; 4 |]
            // permute (2,0,1): out[k,i,j] = t[i,j,k] = 12i + 4j + k; out[1,0,2] = t[0,2,1] = 9
            let p = t.Permute [| 2; 0; 1 |]
            Expect.equal p.Shape [| 4; 2; 3 |] "permuted shape"
            Expect.equal p.[[| 1; 0; 2 |]] 9.0 "permuted element"
            Expect.equal (m.Reshape [| -1 |]).Shape [| 6 |] "inferred dimension"
            Check.throwsWith [ "reshape"; "(2, 3)"; "(4,)" ] (fun () -> m.Reshape [| 4 |])
        }
        test "slice, select, concat, stack, split, chunk, flip" {
            Check.exact "slice cols 1..2" [| 2; 2 |] [| 2.; 3.; 5.; 6. |] (m.Slice(1, 1, 2))
            Check.exact "select row 1" [| 3 |] [| 4.; 5.; 6. |] (m.Select(0, 1))
            Check.exact "concat dim 1" [| 2; 4 |] [| 1.; 2.; 3.; 9.; 4.; 5.; 6.; 9. |] (Tensor.Concat([ m; Tensor.Full([| 2; 1 |], 9.0) ], 1))
            Check.exact "stack" [| 2; 2 |] [| 1.; 2.; 3.; 4. |] (Tensor.Stack([ Tensor.OfArray [| 1.; 2. |]; Tensor.OfArray [| 3.; 4. |] ], 0))
            let parts = m.Split([| 1; 2 |], 1)
            Check.exact "split first" [| 2; 1 |] [| 1.; 4. |] parts.[0]
            Check.exact "split second" [| 2; 2 |] [| 2.; 3.; 5.; 6. |] parts.[1]
            Expect.equal (m.Chunk(3, 1) |> Array.map (fun c -> c.ToArray())) [| [| 1.; 4. |]; [| 2.; 5. |]; [| 3.; 6. |] |] "chunks"
            Check.exact "flip time" [| 2; 3 |] [| 3.; 2.; 1.; 6.; 5.; 4. |] (m.Flip 1)
            Check.throwsWith [ "slice"; "[2, 4)"; "(2, 3)" ] (fun () -> m.Slice(1, 2, 2))
            Check.throwsWith [ "concat"; "(2, 3)"; "(3, 1)" ] (fun () -> Tensor.Concat([ m; Tensor.Zeros [| 3; 1 |] ], 1))
        }
    ]

[<Tests>]
let indexing =
    testList "Storage/indexing" [
        test "gather rows (embedding) and scatter-add with repeated indices" {
            let table = Tensor.OfArray [| [| 1.; 2. |]; [| 3.; 4. |]; [| 5.; 6. |] |]
            let g = table.GatherRows([| 2; 0; 2 |], [| 3 |])
            Check.exact "gather" [| 3; 2 |] [| 5.; 6.; 1.; 2.; 5.; 6. |] g
            // rows 0 and 2 of the values go to row 2: (1+100, 1+100); row 1 to row 0: (10, 10)
            let values = Tensor.OfArray [| [| 1.; 1. |]; [| 10.; 10. |]; [| 100.; 100. |] |]
            Check.exact "scatter-add" [| 3; 2 |] [| 10.; 10.; 0.; 0.; 101.; 101. |] (values.ScatterAddRows(3, [| 2 |], [| 2; 0; 2 |]))
            Check.throwsWith [ "gatherRows"; "index 3"; "[0, 3)" ] (fun () -> table.GatherRows([| 3 |], [| 1 |]))
        }
        test "gather along the last dimension picks one class per row" {
            let logits = Tensor.OfArray [| [| 0.1; 0.2; 0.3 |]; [| 1.; 2.; 3. |] |]
            Check.exact "pick" [| 2 |] [| 0.3; 1.0 |] (logits.GatherLast [| 2; 0 |])
            Check.exact "scatter" [| 2; 3 |] [| 0.; 0.; 7.; 8.; 0.; 0. |] ((Tensor.OfArray [| 7.; 8. |]).ScatterLast(3, [| 2; 0 |]))
        }
        test "one-hot and where" {
            Check.exact "one-hot" [| 2; 3 |] [| 0.; 1.; 0.; 0.; 0.; 1. |] (Tensor.OneHot(3, [| 1; 2 |]))
            let mask = RawTensor.ofArray1 [| 1.; 0.; 1. |]
            Check.exact "where" [| 3 |] [| 1.; 20.; 3. |] (Tensor.Where(mask, Tensor.OfArray [| 1.; 2.; 3. |], Tensor.OfArray [| 10.; 20.; 30. |]))
        }
    ]

[<Tests>]
let matmul =
    testList "Storage/matmul" [
        let a = m22 (1., 2., 3., 4.)
        let b = m22 (5., 6., 7., 8.)
        test "2-D product and its transposed forms" {
            // [[1·5+2·7, 1·6+2·8], [3·5+4·7, 3·6+4·8]]
            Check.exact "a·b" [| 2; 2 |] [| 19.; 22.; 43.; 50. |] (a.MatMul b)
            // aᵀ·b = [[1·5+3·7, 1·6+3·8], [2·5+4·7, 2·6+4·8]]
            Check.exact "aᵀ·b" [| 2; 2 |] [| 26.; 30.; 38.; 44. |] (Tensor.MatMul(a, b, transA = true))
            // a·bᵀ = [[1·5+2·6, 1·7+2·8], [3·5+4·6, 3·7+4·8]]
            Check.exact "a·bᵀ" [| 2; 2 |] [| 17.; 23.; 39.; 53. |] (Tensor.MatMul(a, b, transB = true))
            // aᵀ·bᵀ = (b·a)ᵀ; b·a = [[23, 34], [31, 46]]
            Check.exact "aᵀ·bᵀ" [| 2; 2 |] [| 23.; 31.; 34.; 46. |] (Tensor.MatMul(a, b, true, true))
        }
        test "non-square and batched products" {
            // (1,3)·(3,2): [1,2,3]·[[1,0],[0,1],[1,1]] = [4, 5]
            let r = Tensor.OfArray [| [| 1.; 2.; 3. |] |]
            let w = Tensor.OfArray [| [| 1.; 0. |]; [| 0.; 1. |]; [| 1.; 1. |] |]
            Check.exact "row·matrix" [| 1; 2 |] [| 4.; 5. |] (r.MatMul w)
            let batch = Tensor.Stack([ a; b ], 0)
            Check.exact "batched" [| 2; 2; 2 |] [| 1.; 2.; 3.; 4.; 5.; 6.; 7.; 8. |] (batch.MatMul(Tensor.Stack([ Tensor.Eye 2; Tensor.Eye 2 ], 0)))
            // (2,1,2)·(2,1): every row times w2 = [[1],[10]]
            let seq = Tensor.OfArray([| 2; 1; 2 |], [| 1.; 2.; 3.; 4. |])
            Check.exact "3-D · 2-D" [| 2; 1; 1 |] [| 21.; 43. |] (seq.MatMul(Tensor.OfArray [| [| 1. |]; [| 10. |] |]))
        }
        test "mismatched inner dimensions name both shapes" {
            Check.throwsWith [ "matmul"; "(2, 3)"; "(2, 3)"; "inner dimensions 3 and 2" ] (fun () -> (Tensor.Zeros [| 2; 3 |]).MatMul(Tensor.Zeros [| 2; 3 |]))
        }
        test "the managed GEMM agrees with a naive triple loop on sizes past the vector width" {
            let m, k, n = 7, 13, 11
            let a = Tensor.RandomUniform(1, [| m; k |], -1.0, 1.0)
            let b = Tensor.RandomUniform(2, [| k; n |], -1.0, 1.0)
            let av, bv = a.ToArray(), b.ToArray()
            let naive = Array.init (m * n) (fun p -> let i, j = p / n, p % n in Seq.sum (seq { for q in 0 .. k - 1 -> av.[i * k + q] * bv.[q * n + j] }))
            // Different summation orders: agreement to a few ulps of the sum of |terms| (≤ 13).
            Check.close "a·b" 0.0 1e-13 naive ((a.MatMul b).ToArray())
            Check.close "(bᵀ·aᵀ)ᵀ" 0.0 1e-13 naive ((Tensor.MatMul(b, a, true, true)).T.ToArray())
        }
        test "the managed GEMM's blocked kernel agrees with a naive loop across tile, block and thread edges" {
            // Sizes straddle the 6×8 register tile, the 96-row blocks and the 256-deep packing (k = 300 and 517
            // leave remainders); offsets and leading dimensions wider than the matrices, every transpose, and
            // beta = 0 over NaN (BLAS: C is overwritten) or beta = 2. 70×131×517 takes the multi-threaded path.
            let rng = Random 5
            for m, n, k in [ 13, 17, 300; 97, 9, 40; 70, 131, 517; 6, 8, 1024 ] do
                for ta in [ false; true ] do
                    for tb in [ false; true ] do
                        for beta in [ 0.0; 2.0 ] do
                            let lda, ldb, ldc = (if ta then m else k) + 3, (if tb then k else n) + 5, n + 2
                            let aOff, bOff, cOff = 7, 11, 4
                            let a = Array.init (aOff + (if ta then k else m) * lda) (fun _ -> rng.NextDouble() * 2.0 - 1.0)
                            let b = Array.init (bOff + (if tb then n else k) * ldb) (fun _ -> rng.NextDouble() * 2.0 - 1.0)
                            let c0 = Array.init (cOff + m * ldc) (fun _ -> if beta = 0.0 then nan else rng.NextDouble())
                            let at i p = if ta then a.[aOff + p * lda + i] else a.[aOff + i * lda + p]
                            let bt p j = if tb then b.[bOff + j * ldb + p] else b.[bOff + p * ldb + j]
                            let c = Array.copy c0
                            Gemm.managed.Gemm(ta, tb, m, n, k, 0.5, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc)
                            let label = sprintf "%d×%d×%d transA=%b transB=%b beta=%g" m n k ta tb beta
                            for i in 0 .. m - 1 do
                                for j in 0 .. n - 1 do
                                    let mutable sum, size = 0.0, 0.0
                                    for p in 0 .. k - 1 do
                                        sum <- sum + at i p * bt p j
                                        size <- size + abs (at i p * bt p j)
                                    let prior = if beta = 0.0 then 0.0 else beta * c0.[cOff + i * ldc + j]
                                    // Different summation orders: a few ulps of the sum of |terms| (≤ k).
                                    let expected = prior + 0.5 * sum
                                    let got = c.[cOff + i * ldc + j]
                                    if abs (got - expected) > 1e-14 * (size + abs prior) then
                                        failtestf "%s: C[%d, %d] = %.17g, expected %.17g" label i j got expected
                            // Padding between rows (ldc > n) and before the offset is left alone.
                            for i in 0 .. m - 1 do
                                for j in n .. ldc - 1 do
                                    if cOff + i * ldc + j < c.Length then
                                        Expect.isTrue (c.[cOff + i * ldc + j].Equals c0.[cOff + i * ldc + j]) (label + ": padding untouched")
                            Expect.isTrue (c.[.. cOff - 1] = c0.[.. cOff - 1] || beta = 0.0) (label + ": before the offset untouched")
        }
        test "the managed GEMM gives the same bits on every call (threads change no summation order)" {
            let m, n, k = 200, 64, 300
            let a = RawTensor.randomUniform 3 -1.0 1.0 [| m; k |]
            let b = RawTensor.randomUniform 4 -1.0 1.0 [| k; n |]
            let run () =
                let c = Array.zeroCreate (m * n)
                Gemm.managed.Gemm(false, false, m, n, k, 1.0, a.ToArray(), 0, k, b.ToArray(), 0, n, 0.0, c, 0, n)
                c
            let first = run ()
            for _ in 1 .. 5 do
                Expect.isTrue (run () = first) "same bits"
        }
        test "a native BLAS, when present, agrees with the managed kernel to 1e-12 (else the managed kernel is in use)" {
            match NativeBlas.tryLoad "libopenblas.so.0" true with
            | Error why ->
                // Without OpenBLAS (the CI machine), the entry point must have fallen back to the managed kernel.
                Expect.equal (Gemm.provider ()).Name "managed" ("fallback when " + why)
            | Ok native ->
                for ta in [ false; true ] do
                    for tb in [ false; true ] do
                        let m, k, n = 37, 53, 41
                        let a = RawTensor.randomUniform 1 -1.0 1.0 (if ta then [| k; m |] else [| m; k |])
                        let b = RawTensor.randomUniform 2 -1.0 1.0 (if tb then [| n; k |] else [| k; n |])
                        let run (p: IGemmProvider) =
                            let c = Array.zeroCreate (m * n)
                            p.Gemm(ta, tb, m, n, k, 1.0, a.ToArray(), 0, (if ta then m else k), b.ToArray(), 0, (if tb then k else n), 0.0, c, 0, n)
                            c
                        // Different blockings sum the 53 products in different orders; each sum of |terms|
                        // is ≤ 53, so 1e-12 relative to that bound is ~4500 ulps of headroom.
                        Check.close (sprintf "transA=%b transB=%b" ta tb) 0.0 (1e-12 * float k) (run Gemm.managed) (run native)
        }
        test "an OpenBLAS running kernels older than the CPU is reported with the setting that fixes it" {
            let fallback = NativeBlas.kernelAdvice "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Prescott MAX_THREADS=64"
            if Runtime.Intrinsics.X86.Avx2.IsSupported && Runtime.Intrinsics.X86.Fma.IsSupported then
                Expect.isSome fallback "Prescott kernels on an AVX2 CPU"
                Expect.stringContains fallback.Value "OPENBLAS_CORETYPE=" "names the setting"
                Expect.stringContains fallback.Value "Prescott" "names the kernel in use"
            else Expect.isNone fallback "Prescott kernels are right for a CPU without AVX2"
            Expect.isNone (NativeBlas.kernelAdvice "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64") "a current kernel"
            Expect.isNone (NativeBlas.kernelAdvice "OpenBLAS 0.3.21 DYNAMIC_ARCH SkylakeX") "a current kernel"
        }
    ]
