namespace RnnAd.FSharp

open RnnAd
open RnnAd.FSharp.Storage

/// Differentiable selection by integer indices (rows, classes, gather and index-select along any dimension,
/// and their scatter-add adjoints) and by masks. Indices and masks are data, not variables: only the
/// selected tensors are differentiated.
[<AutoOpen>]
module TensorIndexing =

    type Tensor with

        /// Rows of a (V, ...) table picked by `indices`, giving shape `indexShape @ rest` (an embedding lookup).
        /// The adjoint scatter-adds each output row's adjoint into the row it came from.
        [<CompiledName("GatherRows")>]
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
        [<CompiledName("ScatterAddRows")>]
        member a.ScatterAddRows(rows: int, rowShape: int[], indices: int[]) : Tensor =
            let indexShape = a.Shape.[.. a.Rank - rowShape.Length - 1]
            Op.unary (Indexing.scatterAddRows rows rowShape indices)
                (fun _ _ da -> da.ScatterAddRows(rows, rowShape, indices))
                (fun _ _ g -> g.GatherRows(indices, indexShape))
                a

        /// For `a` of shape (..., C): a[..., indices[p]] at every position p of the leading dimensions
        /// (row-major), giving the leading shape. Picks each target's logit.
        [<CompiledName("GatherLast")>]
        member a.GatherLast(indices: int[]) : Tensor =
            if isNull indices then nullArg "indices"
            let classes = if a.Rank = 0 then 0 else a.Shape.[a.Rank - 1]
            let indices = Array.copy indices
            Op.unary (Indexing.gatherLast indices)
                (fun _ _ da -> da.GatherLast indices)
                (fun _ _ g -> g.ScatterLast(classes, indices))
                a

        /// The adjoint of GatherLast: zeros of shape `a.Shape @ [classes]` holding a[p] at [p, indices[p]].
        [<CompiledName("ScatterLast")>]
        member a.ScatterLast(classes: int, indices: int[]) : Tensor =
            Op.unary (Indexing.scatterLast classes indices)
                (fun _ _ da -> da.ScatterLast(classes, indices))
                (fun _ _ g -> g.GatherLast indices)
                a

        /// torch.gather along `dim`: out[p] = a[p with its coordinate along `dim` replaced by the index at p].
        /// The index (values `indices`, row-major, of shape `indexShape`) has a's rank and fits inside a's shape
        /// off `dim`; the result has its shape. ∂f = da gathered alike; ā = ḡ added back where each entry came
        /// from (repeated indices add up).
        [<CompiledName("Gather")>]
        member a.Gather(dim: int, indices: int[], indexShape: int[]) : Tensor =
            if isNull indices then nullArg "indices"
            if isNull indexShape then nullArg "indexShape"
            let dim = Shape.normalizeDim "gather" a.Rank dim
            let indices = Array.copy indices
            let indexShape = Array.copy indexShape
            Op.unarySparse (Indexing.gather dim indexShape indices)
                (fun _ _ da -> da.Gather(dim, indices, indexShape))
                (fun a _ g -> Tensor.GatherAdjoint(dim, indices, indexShape, a.Shape, g))
                a

        /// The reverse rule of Gather: ḡ (of the index's shape) added into zeros of `shape` where Gather read
        /// it, in place into the adjoint's buffer when ḡ is a constant.
        static member internal GatherAdjoint(dim: int, indices: int[], indexShape: int[], shape: int[], g: Tensor) : Contribution =
            Sparse((fun () -> Tensor.Zeros(shape).ScatterAdd(dim, indices, indexShape, g)),
                   fun buffer ->
                       match g with
                       | Op.Raw r -> Indexing.scatterAddInto buffer shape dim indexShape indices r; true
                       | _ -> false)

        /// torch.scatter_add along `dim`: a copy of `a` with each entry of `src` added where Gather with the
        /// same index would read it. `src` must have the index's shape (PyTorch also takes a larger `src` and
        /// reads its leading block; that is refused here, as it usually hides a shape mistake).
        /// ∂f = da + dsrc scattered; ā = ḡ; s̄rc = ḡ gathered.
        [<CompiledName("ScatterAdd")>]
        member a.ScatterAdd(dim: int, indices: int[], indexShape: int[], src: Tensor) : Tensor =
            if isNull indices then nullArg "indices"
            if isNull indexShape then nullArg "indexShape"
            let dim = Shape.normalizeDim "scatterAdd" a.Rank dim
            let indices = Array.copy indices
            let indexShape = Array.copy indexShape
            Tensor.AddPlaced(Indexing.scatterAdd dim indexShape indices,
                             (fun a s -> a.ScatterAdd(dim, indices, indexShape, s)),
                             (fun g -> g.Gather(dim, indices, indexShape)), a, src)

        /// torch.index_select: the entries `indices` along `dim`, in that order (repeats allowed).
        /// ∂f = da selected alike; ā = ḡ's entries added back into the entries they came from.
        [<CompiledName("IndexSelect")>]
        member a.IndexSelect(dim: int, indices: int[]) : Tensor =
            if isNull indices then nullArg "indices"
            let dim = Shape.normalizeDim "indexSelect" a.Rank dim
            let indices = Array.copy indices
            Op.unarySparse (Indexing.indexSelect dim indices)
                (fun _ _ da -> da.IndexSelect(dim, indices))
                (fun a _ g ->
                    Sparse((fun () -> Tensor.Zeros(a.Shape).IndexAdd(dim, indices, g)),
                           fun buffer ->
                               match g with
                               | Op.Raw r -> Indexing.indexAddInto buffer a.Shape dim indices r; true
                               | _ -> false))
                a

        /// torch.index_add: a copy of `a` with entry q along `dim` of `source` added into entry `indices[q]`.
        /// ∂f = da + dsource placed alike; ā = ḡ; s̄ource = ḡ's entries `indices` along `dim`.
        [<CompiledName("IndexAdd")>]
        member a.IndexAdd(dim: int, indices: int[], source: Tensor) : Tensor =
            if isNull indices then nullArg "indices"
            let dim = Shape.normalizeDim "indexAdd" a.Rank dim
            let indices = Array.copy indices
            Tensor.AddPlaced(Indexing.indexAdd dim indices,
                             (fun a s -> a.IndexAdd(dim, indices, s)),
                             (fun g -> g.IndexSelect(dim, indices)), a, source)

        /// `addAt a src` = a + src's entries added at fixed positions (raw kernel `raw`), with `pick` reading
        /// those positions back, its transpose: ∂f = da + addAt 0 dsrc; ā = ḡ; s̄rc = pick ḡ. ScatterAdd and
        /// IndexAdd are this op.
        static member private AddPlaced(raw: RawTensor -> RawTensor -> RawTensor, addAt: Tensor -> Tensor -> Tensor, pick: Tensor -> Tensor, a: Tensor, src: Tensor) : Tensor =
            Op.binary raw
                (fun _ _ _ da -> da)
                (fun a _ _ ds -> addAt (Tensor.Zeros a.Shape) ds)
                (fun _ _ _ g -> g)
                (fun _ _ _ g -> pick g)
                a src

        /// torch.masked_fill: `value` where `mask` is non-zero, `a` elsewhere; the mask broadcasts to a's shape.
        /// ∂f = da where `a` is kept and 0 where filled (selected, never multiplied by a mask).
        [<CompiledName("MaskedFill")>]
        member a.MaskedFill(mask: RawTensor, value: float) : Tensor =
            if isNull (box mask) then nullArg "mask"
            if not (Shape.equal (Shape.broadcast "maskedFill" mask.Shape a.Shape) a.Shape) then
                Shape.fail "maskedFill" (sprintf "the mask of shape %s does not broadcast to the tensor's shape %s" (Shape.format mask.Shape) (Shape.format a.Shape))
            Tensor.Where(mask, Tensor.Scalar value, a)

        /// Where `mask` is non-zero take `a`, else `b`; all three broadcast together. The adjoint of each branch
        /// is the output's adjoint where that branch was taken, 0 elsewhere (so an infinite value in the
        /// branch not taken cannot leak a NaN into the gradient).
        [<CompiledName("Where")>]
        static member Where(mask: RawTensor, a: Tensor, b: Tensor) : Tensor =
            if isNull (box mask) then nullArg "mask"
            let zero = Tensor.Scalar 0.0
            Op.binary (Indexing.where mask)
                (fun _ _ f da -> Tensor.Where(mask, da, zero).BroadcastTo f.Shape)
                (fun _ _ f db -> Tensor.Where(mask, zero, db).BroadcastTo f.Shape)
                (fun a _ _ g -> Tensor.Where(mask, g, zero).SumToShape a.Shape)
                (fun _ b _ g -> Tensor.Where(mask, zero, g).SumToShape b.Shape)
                a b
