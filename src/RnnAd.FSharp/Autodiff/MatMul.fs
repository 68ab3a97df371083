namespace RnnAd.FSharp

open RnnAd
open RnnAd.FSharp.Storage

/// The differentiable matrix product. All four transpose combinations are one op, so the reverse rules
/// (which need transposed operands) never copy a transpose: they call the same op with other flags.
[<AutoOpen>]
module TensorMatMul =

    type Tensor with

        /// op(a) · op(b) with torch.matmul's shapes, where op transposes the last two dimensions when its flag
        /// is set: matrices; batches of matrices whose leading dimensions broadcast together (so (2,3,4,5)·(5,6)
        /// and (2,1,4,5)·(3,5,6) → (2,3,4,6)); a vector operand is a one-row (a) or one-column (b) matrix whose
        /// dimension is dropped again (vector · vector is the dot product). The flags apply to matrices only.
        /// ∂f = op(da)·op(b) + op(a)·op(db); ā and b̄ are the products with ḡ, summed over the batch
        /// dimensions along which a or b was broadcast.
        [<CompiledName("MatMul")>]
        static member MatMul(a: Tensor, b: Tensor, ?transA: bool, ?transB: bool) : Tensor =
            let ta = defaultArg transA false
            let tb = defaultArg transB false
            if a.Rank = 0 || b.Rank = 0 then
                Shape.fail "matmul" (sprintf "operands %s and %s must have at least one dimension" (Shape.format a.Shape) (Shape.format b.Shape))
            let vectorFlag (flag: bool) (name: string) (t: Tensor) =
                if flag && t.Rank = 1 then
                    Shape.fail "matmul" (sprintf "%s has shape %s; the transpose flags apply to matrices, not vectors" name (Shape.format t.Shape))
            vectorFlag ta "a" a
            vectorFlag tb "b" b
            // Checked here, on the shapes as given, since the paths below reshape them first.
            let ka = if ta then a.Shape.[a.Rank - 2] else a.Shape.[a.Rank - 1]
            let kb = if b.Rank = 1 then b.Shape.[0] elif tb then b.Shape.[b.Rank - 1] else b.Shape.[b.Rank - 2]
            if ka <> kb then
                Shape.fail "matmul" (sprintf "inner dimensions %d and %d differ in %s%s and %s%s" ka kb
                                         (Shape.format a.Shape) (if ta then "ᵀ" else "") (Shape.format b.Shape) (if tb then "ᵀ" else ""))
            if a.Rank = 1 then
                // The row dimension a gained is the last but one of the product, or its only one for a dot.
                Tensor.MatMul(a.Unsqueeze 0, b, false, tb).Squeeze(if b.Rank = 1 then -1 else -2)
            elif b.Rank = 1 then
                Tensor.MatMul(a, b.Unsqueeze 1, ta, false).Squeeze(-1)
            elif a.Rank >= 3 && b.Rank = 2 && not ta then
                // Every row of every batch meets the same matrix: one product over the rows stacked.
                let s = a.Shape
                let flat = Tensor.MatMul(a.Reshape [| Shape.numel s.[.. s.Length - 2]; s.[s.Length - 1] |], b, false, tb)
                flat.Reshape(Array.append s.[.. s.Length - 2] [| flat.Shape.[1] |])
            else
                let mm x y tx ty = Tensor.MatMul(x, y, tx, ty)
                // The adjoint of an operand is a product op(x)·op(y) of its shape, unless the operand was
                // broadcast over batch dimensions: then the product is summed back to its shape. A product of
                // the operand's shape adds itself into the accumulated buffer through GEMM with β = 1, so a
                // weight read at every time step costs no temporary per step.
                let product (x: Tensor) (y: Tensor) tx ty (operand: Tensor) =
                    if Shape.equal (MatMul.shape tx ty x.Shape y.Shape) operand.Shape then
                        Sparse((fun () -> mm x y tx ty),
                               fun buffer ->
                                   match x, y with
                                   | Op.Raw rx, Op.Raw ry -> MatMul.matmulInto tx ty rx ry 1.0 buffer; true
                                   | _ -> false)
                    else Dense((mm x y tx ty).SumToShape operand.Shape)
                Op.binarySparse (MatMul.matmul ta tb)
                    (fun _ b _ da -> mm da b ta tb)
                    (fun a _ _ db -> mm a db ta tb)
                    (fun a b _ g ->
                        match ta, tb with
                        | false, false -> product g b false true a
                        | false, true -> product g b false false a
                        | true, false -> product b g false true a
                        | true, true -> product b g true true a)
                    (fun a b _ g ->
                        match ta, tb with
                        | false, false -> product a g true false b
                        | false, true -> product g a true false b
                        | true, false -> product a g false false b
                        | true, true -> product g a true true b)
                    a b

        /// a · b (matrix product, see the static overload).
        [<CompiledName("MatMul")>]
        member a.MatMul(b: Tensor) : Tensor = Tensor.MatMul(a, b)
