namespace RnnAd.FSharp.Storage

open System

/// Kernels that move values without arithmetic: reshape, permute, slice and its inverse, padding, concat, flip.
[<RequireQualifiedAccess>]
module Layout =

    /// The same values under a new shape with the same number of elements; one dimension may be -1
    /// (inferred). Free: the storage is shared.
    let reshape (shape: int[]) (a: RawTensor) : RawTensor =
        let inferred = shape |> Array.filter (fun d -> d = -1) |> Array.length
        if inferred > 1 then Shape.fail "reshape" (sprintf "at most one dimension may be -1, got %s" (Shape.format shape))
        let shape =
            if inferred = 0 then shape
            else
                let known = shape |> Array.fold (fun acc d -> if d = -1 then acc else acc * d) 1
                if known = 0 || a.Numel % known <> 0 then
                    Shape.fail "reshape" (sprintf "cannot reshape %s into %s" (Shape.format a.Shape) (Shape.format shape))
                shape |> Array.map (fun d -> if d = -1 then a.Numel / known else d)
        Shape.validate "reshape" shape
        if Shape.numel shape <> a.Numel then
            Shape.fail "reshape" (sprintf "cannot reshape %s (%d elements) into %s (%d elements)" (Shape.format a.Shape) a.Numel (Shape.format shape) (Shape.numel shape))
        RawTensor.ofOwned (Array.copy shape) a.Data

    /// `perm` with negative dimensions counted from the end (-1 is the last), checked to be a permutation of
    /// 0..rank-1.
    let normalizePermutation (rank: int) (perm: int[]) : int[] =
        if isNull perm then nullArg "perm"
        if perm.Length <> rank then
            Shape.fail "permute" (sprintf "%s names %d dimensions, the tensor has %d" (Shape.format perm) perm.Length rank)
        let dims = perm |> Array.map (Shape.normalizeDim "permute" rank)
        match dims |> Array.countBy id |> Array.tryFind (fun (_, count) -> count > 1) with
        | Some (d, _) -> Shape.fail "permute" (sprintf "%s names dimension %d twice" (Shape.format perm) d)
        | None -> dims

    /// Reorders dimensions: output dimension i is input dimension perm[i] (negative counts from the end).
    let permute (perm: int[]) (a: RawTensor) : RawTensor =
        let perm = normalizePermutation a.Rank perm
        if perm |> Array.mapi (fun i p -> i = p) |> Array.forall id then a
        else
            let shape = perm |> Array.map (fun p -> a.Shape.[p])
            let srcStrides = Shape.strides a.Shape
            let strides = perm |> Array.map (fun p -> srcStrides.[p])
            let out = Array.zeroCreate a.Numel
            let src = a.Data
            let r = shape.Length
            let idx = Array.zeroCreate r
            let mutable s = 0
            for o in 0 .. out.Length - 1 do
                out.[o] <- src.[s]
                let mutable d = r - 1
                while d >= 0 do
                    idx.[d] <- idx.[d] + 1
                    s <- s + strides.[d]
                    if idx.[d] = shape.[d] then
                        s <- s - strides.[d] * shape.[d]
                        idx.[d] <- 0
                        d <- d - 1
                    else d <- -1
            RawTensor.ofOwned shape out

    /// The permutation that swaps two dimensions.
    let swapPermutation (rank: int) (dim0: int) (dim1: int) : int[] =
        let d0 = Shape.normalizeDim "transpose" rank dim0
        let d1 = Shape.normalizeDim "transpose" rank dim1
        Array.init rank (fun i -> if i = d0 then d1 elif i = d1 then d0 else i)

    /// The inverse of a permutation of 0..n-1 (normalize negative dimensions first).
    let inversePermutation (perm: int[]) : int[] =
        let inv = Array.zeroCreate perm.Length
        perm |> Array.iteri (fun i p -> inv.[p] <- i)
        inv

    /// The `length` entries starting at `start` along `dim`.
    let slice (dim: int) (start: int) (length: int) (a: RawTensor) : RawTensor =
        let dim = Shape.normalizeDim "slice" a.Rank dim
        let struct (outer, n, inner) = Shape.around a.Shape dim
        if start < 0 || length < 0 || start + length > n then
            Shape.fail "slice" (sprintf "entries [%d, %d) are out of range for dimension %d of shape %s" start (start + length) dim (Shape.format a.Shape))
        if start = 0 && length = n then a
        else
            let out = Array.zeroCreate (outer * length * inner)
            for o in 0 .. outer - 1 do
                Array.Copy(a.Data, (o * n + start) * inner, out, o * length * inner, length * inner)
            RawTensor.ofOwned (Array.updateAt dim length a.Shape) out

    /// `a` with `before` entries of `value` ahead of it along `dim` and `after` behind it (constant padding).
    let pad (dim: int) (before: int) (after: int) (value: float) (a: RawTensor) : RawTensor =
        let dim = Shape.normalizeDim "pad" a.Rank dim
        if before < 0 || after < 0 then
            Shape.fail "pad" (sprintf "padding must be non-negative, got %d before and %d after along dimension %d of shape %s" before after dim (Shape.format a.Shape))
        let struct (outer, length, inner) = Shape.around a.Shape dim
        let size = before + length + after
        if size = length then a
        else
            let out = Array.zeroCreate (outer * size * inner)
            if value <> 0.0 then Array.Fill(out, value)
            for o in 0 .. outer - 1 do
                Array.Copy(a.Data, o * length * inner, out, (o * size + before) * inner, length * inner)
            RawTensor.ofOwned (Array.updateAt dim size a.Shape) out

    /// The inverse of slice: `a` placed at `start` along `dim` of a zero tensor whose `dim` has `size` entries.
    let unslice (dim: int) (start: int) (size: int) (a: RawTensor) : RawTensor =
        let dim = Shape.normalizeDim "unslice" a.Rank dim
        let length = a.Shape.[dim]
        if start < 0 || start + length > size then
            Shape.fail "unslice" (sprintf "entries [%d, %d) do not fit a dimension of size %d" start (start + length) size)
        pad dim start (size - start - length) 0.0 a

    /// Adds `a` into the region starting at `start` along `dim` of `dst`, a buffer of shape `a.Shape` with
    /// `size` entries along `dim`: the in-place form of unslice for accumulating adjoints.
    let addSliceInto (dst: float[]) (dim: int) (start: int) (size: int) (a: RawTensor) : unit =
        let struct (outer, length, inner) = Shape.around a.Shape dim
        if start < 0 || start + length > size || dst.Length <> outer * size * inner then
            Shape.fail "addSliceInto" (sprintf "entries [%d, %d) of %s do not fit a buffer of %d values with %d along dimension %d" start (start + length) (Shape.format a.Shape) dst.Length size dim)
        let src = a.Data
        for o in 0 .. outer - 1 do
            let d = (o * size + start) * inner
            let s = o * length * inner
            for j in 0 .. length * inner - 1 do
                dst.[d + j] <- dst.[d + j] + src.[s + j]

    /// Joins tensors along `dim`; all other dimensions must agree.
    let concat (dim: int) (parts: RawTensor[]) : RawTensor =
        if parts.Length = 0 then Shape.fail "concat" "needs at least one tensor"
        let first = parts.[0]
        let dim = Shape.normalizeDim "concat" first.Rank dim
        for p in parts do
            if p.Rank <> first.Rank || (p.Shape |> Array.mapi (fun i d -> i = dim || d = first.Shape.[i]) |> Array.exists not) then
                Shape.fail "concat" (sprintf "shapes %s and %s differ outside dimension %d" (Shape.format first.Shape) (Shape.format p.Shape) dim)
        if parts.Length = 1 then first
        else
            let struct (outer, _, inner) = Shape.around first.Shape dim
            let total = parts |> Array.sumBy (fun p -> p.Shape.[dim])
            let out = Array.zeroCreate (outer * total * inner)
            let mutable offset = 0
            for p in parts do
                let len = p.Shape.[dim]
                for o in 0 .. outer - 1 do
                    Array.Copy(p.Data, o * len * inner, out, (o * total + offset) * inner, len * inner)
                offset <- offset + len
            RawTensor.ofOwned (Array.updateAt dim total first.Shape) out

    /// Reverses the order of entries along `dim`.
    let flip (dim: int) (a: RawTensor) : RawTensor =
        let dim = Shape.normalizeDim "flip" a.Rank dim
        let struct (outer, n, inner) = Shape.around a.Shape dim
        let out = Array.zeroCreate a.Numel
        for o in 0 .. outer - 1 do
            for i in 0 .. n - 1 do
                Array.Copy(a.Data, (o * n + i) * inner, out, (o * n + n - 1 - i) * inner, inner)
        RawTensor.ofOwned a.Shape out
