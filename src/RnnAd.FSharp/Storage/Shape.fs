namespace RnnAd.FSharp.Storage

open System

/// Shapes are plain `int[]`, outermost dimension first (row-major). These helpers check and combine them,
/// and build the error messages that name the operation and the shapes at fault.
[<RequireQualifiedAccess>]
module Shape =

    /// Number of elements of a tensor of this shape (1 for a scalar, whose shape is empty). A shape whose
    /// product does not fit an int (arrays cannot hold it) is an error rather than a silent wrap-around.
    let numel (shape: int[]) : int =
        let mutable n = 1L
        for d in shape do
            n <- n * int64 d
            if n > int64 Int32.MaxValue then
                raise (ArgumentException(sprintf "shape (%s) has more than %d elements" (String.Join(", ", shape)) Int32.MaxValue))
        int n

    /// PyTorch-style rendering: `()`, `(3,)`, `(2, 3)`.
    let format (shape: int[]) : string =
        match shape.Length with
        | 0 -> "()"
        | 1 -> sprintf "(%d,)" shape.[0]
        | _ -> "(" + String.Join(", ", shape) + ")"

    /// Element-wise equality of two shapes.
    let equal (a: int[]) (b: int[]) : bool =
        obj.ReferenceEquals(a, b) || a.AsSpan().SequenceEqual(ReadOnlySpan b)

    /// Raises an `ArgumentException` whose message starts with the operation's name.
    let fail (op: string) (message: string) : 'a = raise (ArgumentException(sprintf "%s: %s" op message))

    /// Checks that a requested shape is valid (no negative dimension).
    let validate (op: string) (shape: int[]) : unit =
        if isNull shape then nullArg "shape"
        for d in shape do
            if d < 0 then fail op (sprintf "shape %s has a negative dimension" (format shape))

    /// Row-major strides of a contiguous tensor of this shape.
    let strides (shape: int[]) : int[] =
        let s = Array.zeroCreate shape.Length
        let mutable acc = 1
        for i in shape.Length - 1 .. -1 .. 0 do
            s.[i] <- acc
            acc <- acc * shape.[i]
        s

    /// Turns a possibly negative dimension index (-1 is the last) into 0..rank-1, or fails naming the op.
    let normalizeDim (op: string) (rank: int) (dim: int) : int =
        let d = if dim < 0 then dim + rank else dim
        if d < 0 || d >= rank then
            fail op (sprintf "dimension %d is out of range for a tensor of rank %d" dim rank)
        d

    /// NumPy broadcasting: shapes are aligned on the right; each pair of dimensions must be equal or one of them 1.
    let broadcast (op: string) (a: int[]) (b: int[]) : int[] =
        if equal a b then a
        else
            let rank = max a.Length b.Length
            let out = Array.zeroCreate rank
            for i in 0 .. rank - 1 do
                let da = if i < rank - a.Length then 1 else a.[i - (rank - a.Length)]
                let db = if i < rank - b.Length then 1 else b.[i - (rank - b.Length)]
                out.[i] <-
                    if da = db || db = 1 then da
                    elif da = 1 then db
                    else fail op (sprintf "shapes %s and %s cannot be broadcast together" (format a) (format b))
            out

    /// Strides of `shape` read as if broadcast to `target`: 0 on every broadcast (or missing) dimension.
    let broadcastStrides (shape: int[]) (target: int[]) : int[] =
        let s = strides shape
        let offset = target.Length - shape.Length
        Array.init target.Length (fun i ->
            if i < offset || shape.[i - offset] = 1 && target.[i] <> 1 then 0 else s.[i - offset])

    /// The offset of every position of `shape`, in row-major order, in storage read with `strides` (one per
    /// dimension; 0 repeats along a dimension): a carried multi-index, so no division per position.
    let offsets (shape: int[]) (strides: int[]) : int[] =
        let out = Array.zeroCreate (numel shape)
        let position = Array.zeroCreate shape.Length
        let mutable offset = 0
        for p in 0 .. out.Length - 1 do
            out.[p] <- offset
            let mutable d = shape.Length - 1
            while d >= 0 do
                position.[d] <- position.[d] + 1
                offset <- offset + strides.[d]
                if position.[d] = shape.[d] then
                    offset <- offset - strides.[d] * shape.[d]
                    position.[d] <- 0
                    d <- d - 1
                else d <- -1
        out

    /// Splits a shape around `dim` into (product before, size of dim, product after), the form every
    /// along-one-dimension kernel iterates over.
    let around (shape: int[]) (dim: int) : struct (int * int * int) =
        let mutable outer = 1
        for i in 0 .. dim - 1 do
            outer <- outer * shape.[i]
        let mutable inner = 1
        for i in dim + 1 .. shape.Length - 1 do
            inner <- inner * shape.[i]
        struct (outer, shape.[dim], inner)

    /// The shape with `dim` removed (`keepDim = false`) or set to 1 (`keepDim = true`).
    let reduce (shape: int[]) (dim: int) (keepDim: bool) : int[] =
        if keepDim then Array.updateAt dim 1 shape else Array.removeAt dim shape
