namespace RnnAd.FSharp.Storage

open System
open MathNet.Numerics.Distributions
open MathNet.Numerics.Random

/// A dense, contiguous, row-major array of float64 with a shape: the storage under every tensor.
/// It is immutable once built: kernels always write into fresh arrays, which lets tensors share storage
/// (a reshape is free) and lets the AD engine keep primal values without copying them.
[<Sealed>]
type RawTensor internal (shape: int[], data: float[]) =
    do
        if data.Length <> Shape.numel shape then
            invalidArg "data" (sprintf "RawTensor: %d values do not fill shape %s" data.Length (Shape.format shape))

    /// The dimensions, outermost first. Do not mutate.
    member _.Shape: int[] = shape

    /// The storage; internal because callers outside the kernels must not mutate it.
    member internal _.Data: float[] = data

    /// Number of dimensions.
    member _.Rank = shape.Length

    /// Number of elements.
    member _.Numel = data.Length

    /// A read-only view of the values in row-major order.
    member _.AsSpan() : ReadOnlySpan<float> = ReadOnlySpan data

    /// A copy of the values in row-major order.
    member _.ToArray() : float[] = Array.copy data

    /// The element at a full index (one coordinate per dimension).
    member _.Item
        with get (index: int[]) : float =
            if index.Length <> shape.Length then
                invalidArg "index" (sprintf "index has %d coordinates, the tensor has shape %s" index.Length (Shape.format shape))
            let mutable flat = 0
            for i in 0 .. index.Length - 1 do
                if index.[i] < 0 || index.[i] >= shape.[i] then
                    invalidArg "index" (sprintf "coordinate %d of dimension %d is out of range for shape %s" index.[i] i (Shape.format shape))
                flat <- flat * shape.[i] + index.[i]
            data.[flat]

    override _.ToString() =
        let values =
            if data.Length <= 12 then String.Join(", ", data |> Array.map (fun v -> v.ToString("G6")))
            else String.Join(", ", data |> Array.truncate 10 |> Array.map (fun v -> v.ToString("G6"))) + ", ..."
        sprintf "RawTensor %s [%s]" (Shape.format shape) values

/// Creation of raw tensors. Random values come from MathNet's Xoshiro256** generator seeded explicitly:
/// the same seed gives the same bits on every run.
[<RequireQualifiedAccess>]
module RawTensor =

    /// Wraps an array the caller promises never to mutate again (no copy).
    let internal ofOwned (shape: int[]) (data: float[]) = RawTensor(shape, data)

    /// A tensor of the given shape filled with one value.
    let full (shape: int[]) (value: float) : RawTensor =
        Shape.validate "full" shape
        let data = Array.zeroCreate (Shape.numel shape)
        if value <> 0.0 then Array.Fill(data, value)
        RawTensor(Array.copy shape, data)

    /// All zeros.
    let zeros (shape: int[]) : RawTensor = full shape 0.0

    /// All ones.
    let ones (shape: int[]) : RawTensor = full shape 1.0

    /// A rank-0 tensor holding one value.
    let scalar (value: float) : RawTensor = RawTensor([||], [| value |])

    /// A tensor of the given shape from row-major values (copied).
    let ofArray (shape: int[]) (values: float[]) : RawTensor =
        Shape.validate "ofArray" shape
        if isNull values then nullArg "values"
        if values.Length <> Shape.numel shape then
            Shape.fail "ofArray" (sprintf "%d values cannot fill shape %s (it needs %d)" values.Length (Shape.format shape) (Shape.numel shape))
        RawTensor(Array.copy shape, Array.copy values)

    /// A vector.
    let ofArray1 (values: float[]) : RawTensor =
        if isNull values then nullArg "values"
        ofArray [| values.Length |] values

    /// A matrix from rows of equal length.
    let ofArray2 (rows: float[][]) : RawTensor =
        if isNull rows then nullArg "rows"
        let cols = if rows.Length = 0 then 0 else rows.[0].Length
        rows |> Array.iteri (fun i r ->
            if r.Length <> cols then
                Shape.fail "ofArray2" (sprintf "row %d has %d values, row 0 has %d" i r.Length cols))
        RawTensor([| rows.Length; cols |], Array.concat rows)

    /// A rank-3 tensor from blocks of rows, all of equal size.
    let ofArray3 (blocks: float[][][]) : RawTensor =
        if isNull blocks then nullArg "blocks"
        let mats = blocks |> Array.map ofArray2
        let inner = if mats.Length = 0 then [| 0; 0 |] else mats.[0].Shape
        mats |> Array.iteri (fun i m ->
            if not (Shape.equal m.Shape inner) then
                Shape.fail "ofArray3" (sprintf "block %d has shape %s, block 0 has %s" i (Shape.format m.Shape) (Shape.format inner)))
        RawTensor(Array.append [| blocks.Length |] inner, mats |> Array.collect (fun m -> m.Data))

    /// `start, start + step, ...` strictly below `stop` (strictly above for a negative step), as NumPy's arange.
    let arange (start: float) (stop: float) (step: float) : RawTensor =
        if step = 0.0 || Double.IsNaN step then Shape.fail "arange" "step must be a non-zero number"
        let n = max 0 (int (ceil ((stop - start) / step)))
        RawTensor([| n |], Array.init n (fun i -> start + float i * step))

    /// The n×n identity matrix.
    let eye (n: int) : RawTensor =
        if n < 0 then Shape.fail "eye" (sprintf "size must be non-negative, got %d" n)
        let data = Array.zeroCreate (n * n)
        for i in 0 .. n - 1 do
            data.[i * n + i] <- 1.0
        RawTensor([| n; n |], data)

    /// Samples from N(mean, std²), reproducible from the seed.
    let randomNormal (seed: int) (mean: float) (std: float) (shape: int[]) : RawTensor =
        Shape.validate "randomNormal" shape
        if not (std >= 0.0) || Double.IsInfinity std then
            Shape.fail "randomNormal" (sprintf "std must be finite and non-negative, got %g" std)
        let dist = Normal(mean, std, Xoshiro256StarStar(seed, false))
        let data = Array.zeroCreate (Shape.numel shape)
        dist.Samples data
        RawTensor(Array.copy shape, data)

    /// Samples from U[low, high), reproducible from the seed.
    let randomUniform (seed: int) (low: float) (high: float) (shape: int[]) : RawTensor =
        Shape.validate "randomUniform" shape
        if not (low <= high) || Double.IsInfinity low || Double.IsInfinity high then
            Shape.fail "randomUniform" (sprintf "bounds must be finite with low <= high, got [%g, %g)" low high)
        let rng = Xoshiro256StarStar(seed, false)
        let data = Array.zeroCreate (Shape.numel shape)
        rng.NextDoubles data
        let width = high - low
        for i in 0 .. data.Length - 1 do
            data.[i] <- low + width * data.[i]
        RawTensor(Array.copy shape, data)
