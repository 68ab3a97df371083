namespace RnnAd.FSharp

open RnnAd
open RnnAd.FSharp.Storage

/// Differentiable selection by integer indices and by masks. Indices and masks are data, not variables:
/// only the selected tensor is differentiated.
[<AutoOpen>]
module TensorIndexing =

    type Tensor with

        /// Rows of a (V, ...) table picked by `indices`, giving shape `indexShape @ rest` (an embedding lookup).
        /// The adjoint scatter-adds each output row's adjoint into the row it came from.
        member table.GatherRows(indices: int[], indexShape: int[]) : Tensor =
            if isNull indices then nullArg "indices"
            if isNull indexShape then nullArg "indexShape"
            if table.Rank < 1 then Shape.fail "gatherRows" "the table must have at least one dimension"
            let rows = table.Shape.[0]
            let rowShape = table.Shape.[1..]
            let indices = Array.copy indices
            let indexShape = Array.copy indexShape
            let rowSize = Shape.numel rowShape
            Op.unarySparse (Indexing.gatherRows indexShape indices)
                (fun _ _ da -> da.GatherRows(indices, indexShape))
                (fun _ _ g ->
                    Sparse((fun () -> g.ScatterAddRows(rows, rowShape, indices)),
                           fun buffer ->
                               match g with
                               | Op.Raw r -> Indexing.addRowsInto buffer rowSize indices r; true
                               | _ -> false))
                table

        /// The adjoint of GatherRows: shape `rows :: rowShape`, row i the sum of the rows of `a` whose index is i.
        member a.ScatterAddRows(rows: int, rowShape: int[], indices: int[]) : Tensor =
            let indexShape = a.Shape.[.. a.Rank - rowShape.Length - 1]
            Op.unary (Indexing.scatterAddRows rows rowShape indices)
                (fun _ _ da -> da.ScatterAddRows(rows, rowShape, indices))
                (fun _ _ g -> g.GatherRows(indices, indexShape))
                a

        /// For `a` of shape (..., C): a[..., indices[p]] at every position p of the leading dimensions
        /// (row-major), giving the leading shape. Picks each target's logit.
        member a.GatherLast(indices: int[]) : Tensor =
            if isNull indices then nullArg "indices"
            let classes = if a.Rank = 0 then 0 else a.Shape.[a.Rank - 1]
            let indices = Array.copy indices
            Op.unary (Indexing.gatherLast indices)
                (fun _ _ da -> da.GatherLast indices)
                (fun _ _ g -> g.ScatterLast(classes, indices))
                a

        /// The adjoint of GatherLast: zeros of shape `a.Shape @ [classes]` holding a[p] at [p, indices[p]].
        member a.ScatterLast(classes: int, indices: int[]) : Tensor =
            Op.unary (Indexing.scatterLast classes indices)
                (fun _ _ da -> da.ScatterLast(classes, indices))
                (fun _ _ g -> g.GatherLast indices)
                a

        /// Where `mask` is non-zero take `a`, else `b`; all three broadcast together. The adjoint of each branch
        /// is the output's adjoint where that branch was taken, 0 elsewhere (so an infinite value in the
        /// branch not taken cannot leak a NaN into the gradient).
        static member Where(mask: RawTensor, a: Tensor, b: Tensor) : Tensor =
            if isNull (box mask) then nullArg "mask"
            let zero = Tensor.Scalar 0.0
            Op.binary (Indexing.where mask)
                (fun _ _ f da -> Tensor.Where(mask, da, zero).BroadcastTo f.Shape)
                (fun _ _ f db -> Tensor.Where(mask, zero, db).BroadcastTo f.Shape)
                (fun a _ _ g -> Tensor.Where(mask, g, zero).SumToShape a.Shape)
                (fun _ b _ g -> Tensor.Where(mask, zero, g).SumToShape b.Shape)
                a b
