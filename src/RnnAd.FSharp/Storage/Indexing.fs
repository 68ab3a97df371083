namespace RnnAd.FSharp.Storage

open System

/// Kernels that select by integer indices (embedding lookup, class picking), their scatter-add adjoints,
/// one-hot encoding and masked selection.
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
