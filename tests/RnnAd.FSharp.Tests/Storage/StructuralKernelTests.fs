module RnnAd.FSharp.Tests.Storage.StructuralKernelTests

open Expecto
open RnnAd.FSharp.Storage

// The raw kernels behind the structural ops, where the Tensor API does not reach them directly: the in-place
// adjoint kernels adding into a buffer that already holds values, the products of the others, running sums
// from the end, and the offsets walk. Every expected value is worked out by hand beside it.

let private raw (shape: int[]) (values: float list) = RawTensor.ofArray shape (Array.ofList values)

[<Tests>]
let kernels =
    testList "Storage/structural kernels" [
        test "offsets of every position under strides, 0 repeating" {
            Expect.equal (Shape.offsets [| 2; 3 |] [| 3; 1 |]) [| 0; 1; 2; 3; 4; 5 |] "row-major"
            Expect.equal (Shape.offsets [| 2; 3 |] [| 0; 1 |]) [| 0; 1; 2; 0; 1; 2 |] "first dimension repeated"
            // a (2, 2) read transposed: position (i, j) at 2j + i
            Expect.equal (Shape.offsets [| 2; 2 |] [| 1; 2 |]) [| 0; 2; 1; 3 |] "transposed"
            Expect.equal (Shape.offsets [||] [||]) [| 0 |] "a scalar"
            Expect.equal (Shape.offsets [| 2; 0 |] [| 1; 1 |]) [||] "empty"
        }
        test "products of the others along a dimension, with zeros, without division" {
            // row [2, 0, 3]: [0·3, 2·3, 2·0]; row [0, 0, 5]: each keeps a zero
            Expect.equal ((Reductions.prodOthersDim 1 (raw [| 2; 3 |] [ 2.; 0.; 3.; 0.; 0.; 5. ])).ToArray()) [| 0.; 6.; 0.; 0.; 0.; 0. |] "dim 1"
            // columns [2, 4] and [3, 0]: [4, 2] and [0, 3]
            Expect.equal ((Reductions.prodOthersDim 0 (raw [| 2; 2 |] [ 2.; 3.; 4.; 0. ])).ToArray()) [| 4.; 0.; 2.; 3. |] "dim 0"
        }
        test "running sums from either end" {
            // [1, 2, 3]: from the start [1, 3, 6], from the end [6, 5, 3]
            Expect.equal ((Reductions.cumsumDim 0 false (raw [| 3 |] [ 1.; 2.; 3. ])).ToArray()) [| 1.; 3.; 6. |] "from the start"
            Expect.equal ((Reductions.cumsumDim 0 true (raw [| 3 |] [ 1.; 2.; 3. ])).ToArray()) [| 6.; 5.; 3. |] "from the end"
            Expect.equal ((Reductions.cumsumDim -1 true (raw [| 2; 2 |] [ 1.; 2.; 3.; 4. ])).ToArray()) [| 3.; 2.; 7.; 4. |] "rows, from the end"
        }
        test "scatter-add and index-add into a buffer that already holds values" {
            // [1, 1, 1] + values [1, 2, 3] at indices [2, 2, 0]: entry 2 gets 1 + 2, entry 0 gets 3
            let dst = [| 1.; 1.; 1. |]
            Indexing.scatterAddInto dst [| 3 |] 0 [| 3 |] [| 2; 2; 0 |] (raw [| 3 |] [ 1.; 2.; 3. ])
            Expect.equal dst [| 4.; 1.; 4. |] "scatterAddInto"
            // ones (2, 2) + columns of [[1, 2], [3, 4]] both into column 1: [1, 1 + 1 + 2], [1, 1 + 3 + 4]
            let dst = Array.create 4 1.0
            Indexing.indexAddInto dst [| 2; 2 |] 1 [| 1; 1 |] (raw [| 2; 2 |] [ 1.; 2.; 3.; 4. ])
            Expect.equal dst [| 1.; 4.; 1.; 8. |] "indexAddInto"
        }
        test "a broadcast batched product accumulates into its destination (β = 1)" {
            // a: (2, 1, 1, 1) = [2, 3]; b: (2, 1, 1) = [5, 7]; product (2, 2, 1, 1) = [2·5, 2·7, 3·5, 3·7], plus 1
            let dst = Array.create 4 1.0
            MatMul.matmulInto false false (raw [| 2; 1; 1; 1 |] [ 2.; 3. ]) (raw [| 2; 1; 1 |] [ 5.; 7. ]) 1.0 dst
            Expect.equal dst [| 11.; 15.; 16.; 22. |] "β·dst + a·b"
            Expect.equal (MatMul.shape true false [| 3; 1; 5; 4 |] [| 2; 5; 6 |]) [| 3; 2; 4; 6 |] "shape of a broadcast product"
        }
        test "padding with a value, and permutations with negative dimensions" {
            // [[1], [2]] with one 9 before and two after along dimension 1
            Expect.equal ((Layout.pad 1 1 2 9.0 (raw [| 2; 1 |] [ 1.; 2. ])).ToArray()) [| 9.; 1.; 9.; 9.; 9.; 2.; 9.; 9. |] "pad"
            Expect.equal (Layout.normalizePermutation 3 [| -1; 0; -2 |]) [| 2; 0; 1 |] "normalized"
            // the p-norms of [3, −4]: 1-norm 7, 2-norm 5
            Expect.equal ((Reductions.normDim 1.0 0 false (raw [| 2 |] [ 3.; -4. ])).ToArray()) [| 7. |] "1-norm"
            Expect.equal ((Reductions.normDim 2.0 0 true (raw [| 2 |] [ 3.; -4. ])).ToArray()) [| 5. |] "2-norm"
        }
    ]
