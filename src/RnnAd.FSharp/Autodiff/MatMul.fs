namespace RnnAd.FSharp

open RnnAd
open RnnAd.FSharp.Storage

/// The differentiable matrix product. All four transpose combinations are one op, so the reverse rules
/// (which need transposed operands) never copy a transpose: they call the same op with other flags.
[<AutoOpen>]
module TensorMatMul =

    type Tensor with

        /// op(a) · op(b) for matrices, or batches of matrices (rank 3, equal batch), where op transposes the
        /// last two dimensions when its flag is set. A rank-3 `a` times a matrix `b` multiplies every row.
        static member MatMul(a: Tensor, b: Tensor, ?transA: bool, ?transB: bool) : Tensor =
            let ta = defaultArg transA false
            let tb = defaultArg transB false
            if a.Rank = 3 && b.Rank = 2 && not ta then
                let s = a.Shape
                let flat = Tensor.MatMul(a.Reshape [| s.[0] * s.[1]; s.[2] |], b, false, tb)
                flat.Reshape [| s.[0]; s.[1]; flat.Shape.[1] |]
            else
                let mm x y tx ty = Tensor.MatMul(x, y, tx, ty)
                // An adjoint op(x)·op(y) adds itself into the accumulated buffer through GEMM with β = 1, so a
                // weight read at every time step costs no temporary per step.
                let product (x: Tensor) (y: Tensor) tx ty =
                    Sparse((fun () -> mm x y tx ty),
                           fun buffer ->
                               match x, y with
                               | Op.Raw rx, Op.Raw ry -> MatMul.matmulInto tx ty rx ry 1.0 buffer; true
                               | _ -> false)
                Op.binarySparse (MatMul.matmul ta tb)
                    (fun _ b _ da -> mm da b ta tb)
                    (fun a _ _ db -> mm a db ta tb)
                    (fun _ b _ g ->
                        match ta, tb with
                        | false, false -> product g b false true
                        | false, true -> product g b false false
                        | true, false -> product b g false true
                        | true, true -> product b g true true)
                    (fun a _ _ g ->
                        match ta, tb with
                        | false, false -> product a g true false
                        | false, true -> product g a true false
                        | true, false -> product a g false false
                        | true, true -> product g a true true)
                    a b

        /// a · b (matrix product, see the static overload).
        member a.MatMul(b: Tensor) : Tensor = Tensor.MatMul(a, b)
