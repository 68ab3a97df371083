module RnnAd.FSharp.Tests.Autodiff.IndexingOpTests

open System
open RnnAd
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Storage
open RnnAd.FSharp.Tests
open RnnAd.FSharp.Tests.Autodiff.OpChecks

// Gather, ScatterAdd, IndexSelect, IndexAdd, MaskedFill, Pad, Repeat, Narrow and Permute along any dimension:
// derivatives against finite differences, values worked out by hand beside each, and bad input.

let private u seed shape = Check.uniform seed -2.0 2.0 shape
let private m23 = Tensor.OfArray [| [| 1.; 2.; 3. |]; [| 4.; 5.; 6. |] |]

/// An index of the given shape whose entries lie in [0, bound), repeats included, from a seed.
let private randomIndex (seed: int) (bound: int) (shape: int[]) : int[] =
    let rng = Random seed
    Array.init (Shape.numel shape) (fun _ -> rng.Next bound)

let private cases =
    let t = [| 2; 3; 4 |]
    [ // Index shapes as large as the input, or smaller off the gathered dimension, and longer along it.
      for dim, indexShape in [ 0, [| 3; 3; 4 |]; 1, [| 2; 5; 2 |]; 2, [| 1; 2; 6 |]; -1, [| 2; 3; 4 |] ] do
        let bound = t.[(dim + 3) % 3]
        let idx = randomIndex (40 + dim) bound indexShape
        let s = sprintf "dim %d index %s" dim (Shape.format indexShape)
        opCase ("gather " + s) [| u 41 t |] (fun x -> x.[0].Gather(dim, idx, indexShape))
        opCase ("scatterAdd " + s) [| u 42 t; u 43 indexShape |] (fun x -> x.[0].ScatterAdd(dim, idx, indexShape, x.[1]))
      for dim in [ 0; 1; -1 ] do
        let indices = randomIndex (50 + dim) t.[(dim + 3) % 3] [| 5 |]
        opCase (sprintf "indexSelect dim %d" dim) [| u 51 t |] (fun x -> x.[0].IndexSelect(dim, indices))
        let sourceShape = Array.updateAt ((dim + 3) % 3) 5 t
        opCase (sprintf "indexAdd dim %d" dim) [| u 52 t; u 53 sourceShape |] (fun x -> x.[0].IndexAdd(dim, indices, x.[1]))
        opCase (sprintf "pad dim %d" dim) [| u 54 t |] (fun x -> x.[0].Pad(dim, 2, 1, 0.5))
        opCase (sprintf "narrow dim %d from -2" dim) [| u 55 t |] (fun x -> x.[0].Narrow(dim, -2, 2))
      opCase "scatterAdd into a constant" [| u 56 [| 2; 3 |] |] (fun x -> (Tensor.Ones [| 2; 4 |]).ScatterAdd(1, [| 3; 3; 0; 1; 2; 1 |], [| 2; 3 |], x.[0]))
      opCase "gather of a gather" [| u 57 [| 3; 4 |] |] (fun x -> x.[0].Gather(0, [| 2; 0; 1; 1 |], [| 1; 4 |]).Gather(1, [| 3; 3; 0 |], [| 1; 3 |]))
      opCase "maskedFill with a broadcast mask" [| u 58 t |] (fun x -> x.[0].MaskedFill(RawTensor.ofArray [| 3; 1 |] [| 1.; 0.; 1. |], -7.0))
      opCase "pad every dimension" [| u 59 t |] (fun x -> x.[0].Pad([| (1, 0); (0, 2); (1, 1) |], -1.0))
      opCase "repeat" [| u 60 [| 2; 3 |] |] (fun x -> x.[0].Repeat [| 2; 1; 3 |])
      opCase "select from the end" [| u 61 t |] (fun x -> x.[0].Select(1, -1))
      opCase "permute with negative dimensions" [| u 62 t |] (fun x -> x.[0].Permute [| -1; 0; -2 |]) ]

let private grad f (x: Tensor) = Ad.grad f x

[<Tests>]
let derivatives = opTests "Autodiff/indexing: derivatives" cases

[<Tests>]
let values =
    testList "Autodiff/indexing: values by hand" [
        test "gather along each dimension (torch.gather's examples)" {
            let t = Tensor.OfArray [| [| 1.; 2. |]; [| 3.; 4. |] |]
            // dim 1: out[i][j] = t[i][index[i][j]]: [[t00, t00], [t11, t10]] = [[1, 1], [4, 3]]
            Check.exact "dim 1" [| 2; 2 |] [| 1.; 1.; 4.; 3. |] (t.Gather(1, [| 0; 0; 1; 0 |], [| 2; 2 |]))
            // dim 0: out[i][j] = t[index[i][j]][j]: [[t10, t01], [t00, t01]] = [[3, 2], [1, 2]]
            Check.exact "dim 0" [| 2; 2 |] [| 3.; 2.; 1.; 2. |] (t.Gather(0, [| 1; 0; 0; 0 |], [| 2; 2 |]))
            // an index smaller than the input off the gathered dimension: row 0 only, three picks
            Check.exact "smaller index" [| 1; 3 |] [| 2.; 2.; 1. |] (t.Gather(1, [| 1; 1; 0 |], [| 1; 3 |]))
            // ∂Σ/∂t counts how often each entry is read: t00 twice, t11 and t10 once
            Check.exact "gradient counts reads" [| 2; 2 |] [| 2.; 0.; 1.; 1. |] (grad (fun x -> x.Gather(1, [| 0; 0; 1; 0 |], [| 2; 2 |]).Sum()) t)
        }
        test "scatterAdd adds repeated indices, and its source's gradient gathers" {
            // row 0: index [0, 1, 0] takes 1 and 3 to column 0, 2 to column 1 → [4, 2, 0]
            // row 1: index [2, 2, 1] takes 4 and 5 to column 2, 6 to column 1 → [0, 6, 9]
            let src = m23
            let out = (Tensor.Zeros [| 2; 3 |]).ScatterAdd(1, [| 0; 1; 0; 2; 2; 1 |], [| 2; 3 |], src)
            Check.exact "scatter" [| 2; 3 |] [| 4.; 2.; 0.; 0.; 6.; 9. |] out
            // Σ w ⊙ out with w = rows [1, 10, 100], [1000, 10⁴, 10⁵]: src reads the w it was added into
            let w = Tensor.OfArray [| [| 1.; 10.; 100. |]; [| 1000.; 1e4; 1e5 |] |]
            let g = grad (fun s -> ((Tensor.Zeros [| 2; 3 |]).ScatterAdd(1, [| 0; 1; 0; 2; 2; 1 |], [| 2; 3 |], s) * w).Sum()) src
            Check.exact "source's gradient" [| 2; 3 |] [| 1.; 10.; 1.; 1e5; 1e5; 1e4 |] g
        }
        test "indexSelect and indexAdd along the last dimension" {
            // columns 2, 0, 2 of [[1, 2, 3], [4, 5, 6]]
            Check.exact "select" [| 2; 3 |] [| 3.; 1.; 3.; 6.; 4.; 6. |] (m23.IndexSelect(1, [| 2; 0; 2 |]))
            // ∂Σ/∂a: column 0 read once, column 1 never, column 2 twice
            Check.exact "gradient" [| 2; 3 |] [| 1.; 0.; 2.; 1.; 0.; 2. |] (grad (fun x -> x.IndexSelect(1, [| 2; 0; 2 |]).Sum()) m23)
            // source columns go to columns 2, 0, 2: column 2 gets 1 + 3 and 4 + 6, column 0 gets 2 and 5
            Check.exact "add" [| 2; 3 |] [| 2.; 0.; 4.; 5.; 0.; 10. |] ((Tensor.Zeros [| 2; 3 |]).IndexAdd(1, [| 2; 0; 2 |], m23))
            Check.exact "rows" [| 3; 3 |] [| 4.; 5.; 6.; 1.; 2.; 3.; 4.; 5.; 6. |] (m23.IndexSelect(0, [| 1; 0; 1 |]))
        }
        test "maskedFill fills where the mask is non-zero, and passes no gradient there" {
            let x = Tensor.OfArray [| 1.; 2.; 3. |]
            let mask = RawTensor.ofArray1 [| 1.; 0.; 1. |]
            Check.exact "fill" [| 3 |] [| -9.; 2.; -9. |] (x.MaskedFill(mask, -9.0))
            Check.exact "gradient" [| 3 |] [| 0.; 1.; 0. |] (grad (fun x -> x.MaskedFill(mask, -9.0).Sum()) x)
            // a (1, 3) mask over both rows of a (2, 3) tensor
            Check.exact "broadcast mask" [| 2; 3 |] [| 0.; 2.; 0.; 0.; 5.; 0. |] (m23.MaskedFill(RawTensor.ofArray [| 1; 3 |] [| 1.; 0.; 1. |], 0.0))
            // log of a fill of 0 has an infinite adjoint there, which must not reach x: ∂Σ log/∂x = [0, 1/2, 0]
            let g = grad (fun x -> (log (x.MaskedFill(mask, 0.0))).Sum()) (Tensor.OfArray [| 1.; 2.; 4. |])
            Expect.equal (g.ToArray()) [| 0.0; 0.5; 0.0 |] "1/x where kept, 0 where filled"
        }
        test "pad one dimension or all, with a value" {
            Check.exact "one dimension" [| 5 |] [| 7.; 1.; 2.; 7.; 7. |] ((Tensor.OfArray [| 1.; 2. |]).Pad(0, 1, 2, 7.0))
            // [[1, 2], [3, 4]] with one row of zeros above and one column of zeros to the right
            let t = Tensor.OfArray [| [| 1.; 2. |]; [| 3.; 4. |] |]
            Check.exact "all" [| 3; 3 |] [| 0.; 0.; 0.; 1.; 2.; 0.; 3.; 4.; 0. |] (t.Pad [| (1, 0); (0, 1) |])
            // ∂Σ w ⊙ pad(x) / ∂x is w's middle: w = [10, 20, 30, 40, 50], x sits at entries 1 and 2
            let w = Tensor.OfArray [| 10.; 20.; 30.; 40.; 50. |]
            Check.exact "gradient" [| 2 |] [| 20.; 30. |] (grad (fun x -> (x.Pad(0, 1, 2, 7.0) * w).Sum()) (Tensor.OfArray [| 1.; 2. |]))
        }
        test "repeat tiles as torch.Tensor.repeat, adding leading dimensions" {
            // [1, 2] repeated (2, 2): two rows of [1, 2, 1, 2]
            Check.exact "tiles" [| 2; 4 |] [| 1.; 2.; 1.; 2.; 1.; 2.; 1.; 2. |] ((Tensor.OfArray [| 1.; 2. |]).Repeat [| 2; 2 |])
            // [[1], [2]] repeated (1, 3): each row three times across
            Check.exact "columns" [| 2; 3 |] [| 1.; 1.; 1.; 2.; 2.; 2. |] ((Tensor.OfArray [| [| 1. |]; [| 2. |] |]).Repeat [| 1; 3 |])
            // every entry appears 2·2 = 4 times
            Check.exact "gradient" [| 2 |] [| 4.; 4. |] (grad (fun x -> x.Repeat([| 2; 2 |]).Sum()) (Tensor.OfArray [| 1.; 2. |]))
            Check.exact "zero count" [| 0; 2 |] [||] ((Tensor.OfArray [| 1.; 2. |]).Repeat [| 0; 1 |])
        }
        test "narrow and select count a negative start from the end" {
            let x = Tensor.Arange(1.0, 6.0)
            Check.exact "narrow -2" [| 2 |] [| 4.; 5. |] (x.Narrow(0, -2, 2))
            Check.exact "select -1" [| 3 |] [| 4.; 5.; 6. |] (m23.Select(0, -1))
            Check.exact "select -3" [| 2 |] [| 1.; 4. |] (m23.Select(1, -3))
        }
        test "permute accepts negative dimensions, as PyTorch" {
            // (2, 3, 4) permuted by (−1, 0, −2) = (2, 0, 1): out[k, i, j] = t[i, j, k] = 12i + 4j + k
            let t = Tensor.Arange(0.0, 24.0).Reshape [| 2; 3; 4 |]
            let p = t.Permute [| -1; 0; -2 |]
            Expect.equal p.Shape [| 4; 2; 3 |] "shape"
            Expect.equal p.[[| 1; 0; 2 |]] 9.0 "out[1, 0, 2] = t[0, 2, 1] = 9"
            Expect.equal (p.ToArray()) ((t.Permute [| 2; 0; 1 |]).ToArray()) "the same as the positive dimensions"
            Check.exact "transpose -1 -2" [| 3; 2 |] [| 1.; 4.; 2.; 5.; 3.; 6. |] (m23.Permute [| -1; -2 |])
        }
    ]

[<Tests>]
let secondOrder =
    testList "Autodiff/indexing: Hessian-vector products" [
        test "gather, scatterAdd and pad inside a non-linear function" {
            let x = Check.uniform 71 -1.0 1.0 [| 3; 4 |]
            let dir = Check.uniform 72 -1.0 1.0 [| 3; 4 |]
            let idx, shape = [| 2; 0; 1; 1; 0; 0; 2; 1 |], [| 2; 4 |]
            hvpMatchesFiniteDifferences "gather" (fun x -> (tanh (x.Gather(0, idx, shape)) * x.Gather(0, idx, shape)).Sum()) x dir
            hvpMatchesFiniteDifferences "scatterAdd" (fun x -> (exp (x.ScatterAdd(0, idx, shape, x.Narrow(0, 0, 2) * x.Narrow(0, 1, 2))) ).Sum()) x dir
            hvpMatchesFiniteDifferences "pad and repeat" (fun x -> (x.Pad(1, 1, 1, 0.3).Repeat [| 2; 1 |] ** 3.0).Sum()) x dir
        }
    ]

[<Tests>]
let badInput =
    testList "Autodiff/indexing: bad input names the op, the shapes and the values" [
        let t = Tensor.Zeros [| 2; 3 |]
        test "gather and scatterAdd" {
            Check.throwsWith [ "gather"; "index 3 at position 1"; "[0, 3)"; "(2, 3)" ] (fun () -> t.Gather(1, [| 0; 3 |], [| 1; 2 |]))
            Check.throwsWith [ "gather"; "index 2 at position 0"; "[0, 2)"; "dimension 0" ] (fun () -> t.Gather(0, [| 2 |], [| 1; 1 |]))
            Check.throwsWith [ "gather"; "index shape (3, 1)"; "(2, 3)" ] (fun () -> t.Gather(1, [| 0; 0; 0 |], [| 3; 1 |]))
            Check.throwsWith [ "gather"; "(2,)"; "rank" ] (fun () -> t.Gather(1, [| 0; 0 |], [| 2 |]))
            Check.throwsWith [ "gather"; "3 indices"; "(1, 2)" ] (fun () -> t.Gather(1, [| 0; 0; 0 |], [| 1; 2 |]))
            Check.throwsWith [ "gather"; "dimension 2"; "rank 2" ] (fun () -> t.Gather(2, [| 0 |], [| 1; 1 |]))
            Check.throwsWith [ "scatterAdd"; "source has shape (2, 2)"; "(1, 2)" ] (fun () -> t.ScatterAdd(1, [| 0; 1 |], [| 1; 2 |], Tensor.Ones [| 2; 2 |]))
            Check.throwsWith [ "scatterAdd"; "index -1" ] (fun () -> t.ScatterAdd(1, [| -1 |], [| 1; 1 |], Tensor.Ones [| 1; 1 |]))
        }
        test "indexSelect, indexAdd and maskedFill" {
            Check.throwsWith [ "indexSelect"; "index 3 at position 1"; "[0, 3)" ] (fun () -> t.IndexSelect(1, [| 0; 3 |]))
            Check.throwsWith [ "indexAdd"; "2 indices along dimension 1 of shape (2, 3)"; "source of shape (2, 3)" ] (fun () -> t.IndexAdd(1, [| 0; 1 |], Tensor.Ones [| 2; 3 |]))
            Check.throwsWith [ "maskedFill"; "(3, 3)"; "(2, 3)" ] (fun () -> t.MaskedFill(RawTensor.ones [| 3; 3 |], 1.0))
            Check.throwsWith [ "maskedFill"; "(1, 2, 3)"; "(2, 3)" ] (fun () -> t.MaskedFill(RawTensor.ones [| 1; 2; 3 |], 1.0))
        }
        test "pad, repeat, narrow and select" {
            Check.throwsWith [ "pad"; "non-negative"; "-1 before"; "(2, 3)" ] (fun () -> t.Pad(1, -1, 0))
            Check.throwsWith [ "pad"; "1 (before, after) pairs"; "(2, 3)" ] (fun () -> t.Pad [| (1, 1) |])
            Check.throwsWith [ "repeat"; "(3,)"; "(2, 3)" ] (fun () -> t.Repeat [| 3 |])
            Check.throwsWith [ "repeat"; "(2, -1)"; "non-negative" ] (fun () -> t.Repeat [| 2; -1 |])
            Check.throwsWith [ "narrow"; "2 entries from -4"; "dimension 1 of shape (2, 3)" ] (fun () -> t.Narrow(1, -4, 2))
            Check.throwsWith [ "narrow"; "2 entries from 2" ] (fun () -> t.Narrow(1, 2, 2))
        }
        test "permute: an ArgumentException, not an IndexOutOfRangeException, for invalid dimensions" {
            let t3 = Tensor.Zeros [| 2; 3; 4 |]
            Check.throwsWith [ "permute"; "dimension 3 is out of range"; "rank 3" ] (fun () -> t3.Permute [| 3; 0; 1 |])
            Check.throwsWith [ "permute"; "dimension -4 is out of range" ] (fun () -> t3.Permute [| -4; 0; 1 |])
            Check.throwsWith [ "permute"; "(0, -3, 1)"; "dimension 0 twice" ] (fun () -> t3.Permute [| 0; -3; 1 |])
            Check.throwsWith [ "permute"; "(1, 0)"; "names 2 dimensions, the tensor has 3" ] (fun () -> t3.Permute [| 1; 0 |])
        }
    ]
