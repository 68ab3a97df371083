namespace RnnAd.FSharp.Storage

open System

/// Kernels that select by integer indices (embedding lookup, class picking, gather and index-select along
/// any dimension), their scatter-add adjoints, one-hot encoding and masked selection.
[<RequireQualifiedAccess>]
module Indexing =

    let private checkIndices (op: string) (bound: int) (indices: int[]) =
        if isNull indices then nullArg "indices"
        for k in 0 .. indices.Length - 1 do
            let i = indices.[k]
            if i < 0 || i >= bound then
                Shape.fail op (sprintf "index %d at position %d is out of range [0, %d)" i k bound)

    /// Rows of `table` (shape (V, ...)) picked by `indices`; the result has shape `indexShape @ table.Shape[1..]`.
    /// This is an embedding lookup.
    let gatherRows (indexShape: int[]) (indices: int[]) (table: RawTensor) : RawTensor =
        if table.Rank < 1 then Shape.fail "gatherRows" "the table must have at least one dimension"
        if Shape.numel indexShape <> indices.Length then
            Shape.fail "gatherRows" (sprintf "%d indices do not fill index shape %s" indices.Length (Shape.format indexShape))
        checkIndices "gatherRows" table.Shape.[0] indices
        let row = table.Numel / max 1 table.Shape.[0]
        let out = Array.zeroCreate (indices.Length * row)
        for k in 0 .. indices.Length - 1 do
            Array.Copy(table.Data, indices.[k] * row, out, k * row, row)
        RawTensor.ofOwned (Array.append indexShape table.Shape.[1..]) out

    /// The adjoint of gatherRows: a tensor of shape `rows :: rowShape` whose row i is the sum of the rows
    /// of `values` (shape `indexShape @ rowShape`) whose index is i.
    let scatterAddRows (rows: int) (rowShape: int[]) (indices: int[]) (values: RawTensor) : RawTensor =
        checkIndices "scatterAddRows" rows indices
        let row = Shape.numel rowShape
        if row * indices.Length <> values.Numel then
            Shape.fail "scatterAddRows" (sprintf "%d indices of rows %s do not match values of shape %s" indices.Length (Shape.format rowShape) (Shape.format values.Shape))
        let out = Array.zeroCreate (rows * row)
        let src = values.Data
        for k in 0 .. indices.Length - 1 do
            let d = indices.[k] * row
            let s = k * row
            for j in 0 .. row - 1 do
                out.[d + j] <- out.[d + j] + src.[s + j]
        RawTensor.ofOwned (Array.append [| rows |] rowShape) out

    /// Adds the rows of `values` into rows `indices` of `dst` (a row-major table of rows of `rowSize` values):
    /// the in-place form of scatterAddRows for accumulating adjoints.
    let addRowsInto (dst: float[]) (rowSize: int) (indices: int[]) (values: RawTensor) : unit =
        if rowSize * indices.Length <> values.Numel then
            Shape.fail "addRowsInto" (sprintf "%d indices of rows of %d do not match values of shape %s" indices.Length rowSize (Shape.format values.Shape))
        checkIndices "addRowsInto" (if rowSize = 0 then 0 else dst.Length / rowSize) indices
        let src = values.Data
        for k in 0 .. indices.Length - 1 do
            let row = dst.AsSpan(indices.[k] * rowSize, rowSize)
            VectorMath.add (Span<float>.op_Implicit row) (ReadOnlySpan(src, k * rowSize, rowSize)) row

    /// For `a` of shape (..., C), the entries a[..., indices[p]] at every position p of the leading
    /// dimensions; the result has the leading shape. Picks each target class's logit.
    let gatherLast (indices: int[]) (a: RawTensor) : RawTensor =
        if a.Rank < 1 then Shape.fail "gatherLast" "the tensor must have at least one dimension"
        let c = a.Shape.[a.Rank - 1]
        let lead = a.Shape.[.. a.Rank - 2]
        if indices.Length <> Shape.numel lead then
            Shape.fail "gatherLast" (sprintf "%d indices for leading shape %s of %s" indices.Length (Shape.format lead) (Shape.format a.Shape))
        checkIndices "gatherLast" c indices
        RawTensor.ofOwned lead (Array.init indices.Length (fun p -> a.Data.[p * c + indices.[p]]))

    /// The adjoint of gatherLast: zeros of shape (lead..., classes) with `values[p]` at [p, indices[p]].
    let scatterLast (classes: int) (indices: int[]) (values: RawTensor) : RawTensor =
        if indices.Length <> values.Numel then
            Shape.fail "scatterLast" (sprintf "%d indices for values of shape %s" indices.Length (Shape.format values.Shape))
        checkIndices "scatterLast" classes indices
        let out = Array.zeroCreate (values.Numel * classes)
        for p in 0 .. indices.Length - 1 do
            out.[p * classes + indices.[p]] <- values.Data.[p]
        RawTensor.ofOwned (Array.append values.Shape [| classes |]) out

    /// For every position of an index tensor (shape `indexShape`, values `indices`) used along `dim` of a
    /// tensor of `shape`, the flat offset in that tensor it designates: the index replaces the coordinate
    /// along `dim`, the other coordinates are the position's own (torch.gather's addressing). Checks the
    /// ranks, that the index shape fits inside `shape` off `dim`, and every index.
    let private offsetsAlong (op: string) (dim: int) (indexShape: int[]) (indices: int[]) (shape: int[]) : int[] =
        if isNull indexShape then nullArg "indexShape"
        if isNull indices then nullArg "indices"
        if indexShape.Length <> shape.Length then
            Shape.fail op (sprintf "the index has shape %s, it needs the rank of shape %s" (Shape.format indexShape) (Shape.format shape))
        let dim = Shape.normalizeDim op shape.Length dim
        for d in 0 .. shape.Length - 1 do
            if indexShape.[d] < 0 || d <> dim && indexShape.[d] > shape.[d] then
                Shape.fail op (sprintf "index shape %s does not fit shape %s outside dimension %d" (Shape.format indexShape) (Shape.format shape) dim)
        if Shape.numel indexShape <> indices.Length then
            Shape.fail op (sprintf "%d indices do not fill index shape %s" indices.Length (Shape.format indexShape))
        let strides = Shape.strides shape
        let bound = shape.[dim]
        // Each position's own offset with its coordinate along `dim` left out, plus the index's along `dim`.
        let rest = Shape.offsets indexShape (Array.updateAt dim 0 strides)
        indices |> Array.mapi (fun p i ->
            if i < 0 || i >= bound then
                Shape.fail op (sprintf "index %d at position %d is out of range [0, %d) for dimension %d of shape %s" i p bound dim (Shape.format shape))
            rest.[p] + i * strides.[dim])

    /// torch.gather: out[p] = a[p with its coordinate along `dim` replaced by the index at p]; the result has
    /// the index's shape, whose rank is a's and which fits inside a's shape off `dim`.
    let gather (dim: int) (indexShape: int[]) (indices: int[]) (a: RawTensor) : RawTensor =
        let offsets = offsetsAlong "gather" dim indexShape indices a.Shape
        let src = a.Data
        RawTensor.ofOwned (Array.copy indexShape) (Array.map (fun o -> src.[o]) offsets)

    /// Adds `values` (of the index's shape) into `dst`, a row-major buffer of `shape`, at the places gather
    /// would read them from: the in-place adjoint of gather. Repeated indices add up.
    let scatterAddInto (dst: float[]) (shape: int[]) (dim: int) (indexShape: int[]) (indices: int[]) (values: RawTensor) : unit =
        let offsets = offsetsAlong "scatterAdd" dim indexShape indices shape
        if not (Shape.equal values.Shape indexShape) then
            Shape.fail "scatterAdd" (sprintf "the source has shape %s, the index has shape %s" (Shape.format values.Shape) (Shape.format indexShape))
        if dst.Length <> Shape.numel shape then
            Shape.fail "scatterAdd" (sprintf "a buffer of %d values does not hold shape %s" dst.Length (Shape.format shape))
        let src = values.Data
        for p in 0 .. offsets.Length - 1 do
            dst.[offsets.[p]] <- dst.[offsets.[p]] + src.[p]

    /// torch.scatter_add: a copy of `a` with `values` (of the index's shape) added at the places gather would
    /// read them from.
    let scatterAdd (dim: int) (indexShape: int[]) (indices: int[]) (a: RawTensor) (values: RawTensor) : RawTensor =
        let out = Array.copy a.Data
        scatterAddInto out a.Shape dim indexShape indices values
        RawTensor.ofOwned a.Shape out

    /// torch.index_select: the entries `indices` along `dim`, in that order (repeats allowed); the result has
    /// a's shape with `indices.Length` entries along `dim`.
    let indexSelect (dim: int) (indices: int[]) (a: RawTensor) : RawTensor =
        let dim = Shape.normalizeDim "indexSelect" a.Rank dim
        let struct (outer, n, inner) = Shape.around a.Shape dim
        checkIndices "indexSelect" n indices
        let k = indices.Length
        let out = Array.zeroCreate (outer * k * inner)
        for o in 0 .. outer - 1 do
            for q in 0 .. k - 1 do
                Array.Copy(a.Data, (o * n + indices.[q]) * inner, out, (o * k + q) * inner, inner)
        RawTensor.ofOwned (Array.updateAt dim k a.Shape) out

    /// Adds entry q along `dim` of `values` into entry `indices[q]` along `dim` of `dst`, a row-major buffer of
    /// `shape`: the in-place adjoint of indexSelect. Repeated indices add up.
    let indexAddInto (dst: float[]) (shape: int[]) (dim: int) (indices: int[]) (values: RawTensor) : unit =
        let dim = Shape.normalizeDim "indexAdd" shape.Length dim
        if isNull indices then nullArg "indices"
        if not (Shape.equal values.Shape (Array.updateAt dim indices.Length shape)) || dst.Length <> Shape.numel shape then
            Shape.fail "indexAdd" (sprintf "%d indices along dimension %d of shape %s do not match a source of shape %s" indices.Length dim (Shape.format shape) (Shape.format values.Shape))
        let struct (outer, n, inner) = Shape.around shape dim
        checkIndices "indexAdd" n indices
        let k = indices.Length
        let src = values.Data
        for o in 0 .. outer - 1 do
            for q in 0 .. k - 1 do
                let d = (o * n + indices.[q]) * inner
                let s = (o * k + q) * inner
                for j in 0 .. inner - 1 do
                    dst.[d + j] <- dst.[d + j] + src.[s + j]

    /// torch.index_add: a copy of `a` with entry q along `dim` of `values` added into entry `indices[q]`.
    let indexAdd (dim: int) (indices: int[]) (a: RawTensor) (values: RawTensor) : RawTensor =
        let out = Array.copy a.Data
        indexAddInto out a.Shape dim indices values
        RawTensor.ofOwned a.Shape out

    /// One-hot rows: shape `indexShape @ [classes]`, 1 at each index.
    let oneHot (classes: int) (indexShape: int[]) (indices: int[]) : RawTensor =
        if classes <= 0 then Shape.fail "oneHot" (sprintf "the number of classes must be positive, got %d" classes)
        if Shape.numel indexShape <> indices.Length then
            Shape.fail "oneHot" (sprintf "%d indices do not fill index shape %s" indices.Length (Shape.format indexShape))
        scatterLast classes indices (RawTensor.ofOwned (Array.copy indexShape) (Array.create indices.Length 1.0))

    /// Where `mask` is non-zero take `a`, else `b`; all three broadcast together.
    let where (mask: RawTensor) (a: RawTensor) (b: RawTensor) : RawTensor =
        let shape = Shape.broadcast "where" (Shape.broadcast "where" mask.Shape a.Shape) b.Shape
        let m = Reductions.broadcastTo shape mask
        let x = Reductions.broadcastTo shape a
        let y = Reductions.broadcastTo shape b
        RawTensor.ofOwned shape (Array.init m.Numel (fun i -> if m.Data.[i] <> 0.0 then x.Data.[i] else y.Data.[i]))
