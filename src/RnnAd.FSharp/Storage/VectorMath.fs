namespace RnnAd.FSharp.Storage

open System
open System.Runtime.InteropServices
open System.Runtime.Intrinsics

/// Element-wise kernels four lanes at a time: tanh, the logistic function and eˣ − 1, and the adds the
/// fused kernels make per row. glibc's `tanh` costs about 20 ns a call, which made it a quarter of a
/// recurrent training step; these cost a few ns an element and are within an ulp of the exact value (tests
/// measure them against 28-digit decimal values, eˣ − 1 against 60-digit exact ones). They use fused
/// multiply-add, exact everywhere (in software where the CPU lacks it, slowly), so the bits do not depend
/// on the machine.
///
/// The scalar functions run the vector code on one lane, so a value computed element by element (the
/// hand-derived BPTT reference does that) has the same bits as one computed in a vectorised kernel: the
/// AD-vs-BPTT comparison stays a test of the derivatives, not of two tanh implementations.
[<RequireQualifiedAccess>]
module VectorMath =

    type private V = Vector256<float>

    /// ln 2 split for Cody–Waite reduction: Ln2Hi keeps 32 significant bits, so k·Ln2Hi is exact for
    /// |k| < 2²¹ and y − k·Ln2Hi is exact (Sterbenz); Ln2Lo is ln 2 − Ln2Hi rounded to double.
    [<Literal>]
    let private Ln2Hi = 0.6931471803691238
    [<Literal>]
    let private Ln2Lo = 1.9082149292705877e-10
    [<Literal>]
    let private Log2E = 1.4426950408889634

    /// 1.5·2⁵²: adding it rounds a double of magnitude < 2⁵¹ to an integer held in the low mantissa bits.
    [<Literal>]
    let private Shifter = 6755399441055744.0

    /// y = k·ln2 + r with |r| ≤ ln2/2, for |y| < 2²⁰: returns k (the integer, in an int64 lane) and
    /// expm1(r) = hi + lo from its Taylor series to r¹³/13! (the first omitted term, r¹⁴/14!, is below 0.1
    /// ulp); lo holds the rounding errors of r and hi, so the sum is good to about a third of an ulp.
    let inline private reduce (y: V) : Vector256<int64> * V * V =
        let shifted = Vector256.FusedMultiplyAdd(y, Vector256.Create Log2E, Vector256.Create Shifter)
        let k = shifted - Vector256.Create Shifter
        let kBits = shifted.AsInt64() - Vector256.Create(Vector256.Create(Shifter).AsInt64().ToScalar())
        let r1 = Vector256.FusedMultiplyAdd(-k, Vector256.Create Ln2Hi, y)
        let r = Vector256.FusedMultiplyAdd(-k, Vector256.Create Ln2Lo, r1)
        // r's rounding error: half an ulp of r, which would otherwise be the largest error left
        let rLo = Vector256.FusedMultiplyAdd(-k, Vector256.Create Ln2Lo, r1 - r)
        let inline step (p: V) (c: float) = Vector256.FusedMultiplyAdd(p, r, Vector256.Create c)
        let p = Vector256.Create 1.6059043836821613e-10 // 1/13!
        let p = step p 2.08767569878681e-09
        let p = step p 2.505210838544172e-08
        let p = step p 2.755731922398589e-07
        let p = step p 2.7557319223985893e-06
        let p = step p 2.48015873015873e-05
        let p = step p 0.0001984126984126984
        let p = step p 0.001388888888888889
        let p = step p 0.008333333333333333
        let p = step p 0.041666666666666664
        let p = step p 0.16666666666666666
        let p = step p 0.5 // 1/2!
        let r2 = r * r
        let hi = Vector256.FusedMultiplyAdd(r2, p, r)
        // r − hi is exact (Sterbenz: hi/r ∈ [0.8, 1.2]), so this fma returns hi's rounding error; rLo
        // enters through the derivative of expm1 at r, 1 + expm1(r)
        kBits, hi, Vector256.FusedMultiplyAdd(rLo, V.One + hi, Vector256.FusedMultiplyAdd(r2, p, r - hi))

    /// 2ᵏ for integer k in the normal range [−1022, 1023].
    let inline private pow2 (k: Vector256<int64>) : V =
        Vector256.ShiftLeft(k + Vector256.Create 1023L, 52).AsDouble()

    let private signBit = Vector256.Create(-0.0)

    /// The lanes of `value`, with `x` itself wherever x is NaN.
    let inline private keepNaN (x: V) (value: V) : V = Vector256.ConditionalSelect(Vector256.Equals(x, x), value, x)

    /// (nHi + nLo)/(dHi + dLo), correctly rounded but for about 2⁻⁶⁰ relative: one division, then its exact
    /// remainder (an fma) and the low parts as a correction.
    let inline private divide (nHi: V) (nLo: V) (dHi: V) (dLo: V) : V =
        let q = nHi / dHi
        let remainder = Vector256.FusedMultiplyAdd(-q, dHi, nHi)
        q + (remainder + nLo - q * dLo) / dHi

    /// tanh of each lane: tanh|x| = −u/(2 + u) with u = expm1(−2|x|) ∈ (−1, 0], which loses nothing to
    /// cancellation for small |x|, then the sign of x. u and 2 + u are carried with their rounding errors,
    /// so the quotient is within about half an ulp. |x| is capped at 22, where tanh rounds to 1.
    let tanhVector (x: Vector256<float>) : Vector256<float> =
        let a = Vector256.Min(Vector256.AndNot(x, signBit), Vector256.Create 22.0)
        let kBits, eHi, eLo = reduce (-2.0 * a)
        // expm1(k·ln2 + r) = 2ᵏ·expm1(r) + (2ᵏ − 1), with 2ᵏ − 1 = mHi + mLo exactly (Fast2Sum)
        let s = pow2 kBits
        let mHi = s - V.One
        let mLo = s - (mHi + V.One)
        let uHi = Vector256.FusedMultiplyAdd(s, eHi, mHi)
        // mHi − uHi is exact (Sterbenz, or uHi = eHi when k = 0), so the fma leaves uHi's rounding error
        let uLo = Vector256.FusedMultiplyAdd(s, eHi, mHi - uHi) + Vector256.FusedMultiplyAdd(s, eLo, mLo)
        let two = Vector256.Create 2.0
        let dHi = two + uHi
        let dLo = (two - dHi) + uHi + uLo
        let t = divide -uHi -uLo dHi dLo
        keepNaN x (Vector256.AndNot(t, signBit) ||| (x &&& signBit))

    /// The logistic function of each lane: 1/(1 + e) for x ≥ 0 and e/(1 + e) below, with e = exp(−|x|),
    /// so that neither form overflows or cancels; e and 1 + e are carried with their rounding errors.
    /// |x| is capped at 746, where e rounds to 0.
    let sigmoidVector (x: Vector256<float>) : Vector256<float> =
        let a = Vector256.Min(Vector256.AndNot(x, signBit), Vector256.Create 746.0)
        let kBits, eHi, eLo = reduce -a
        // exp(k·ln2 + r) = 2ᵏ·(1 + expm1(r)), with 2ᵏ applied in two halves so that k down to −1076 (a
        // subnormal or zero e) stays representable; the second products are exact unless e is subnormal.
        let half = Vector256.ShiftRightArithmetic(kBits, 1)
        let s1 = pow2 half
        let s2 = pow2 (kBits - half)
        let scaledHi = Vector256.FusedMultiplyAdd(s1, eHi, s1)
        // s1 − scaledHi is exact (Sterbenz: scaledHi/s1 = 1 + expm1(r) ∈ [0.7, 1.42])
        let scaledLo = Vector256.FusedMultiplyAdd(s1, eHi, s1 - scaledHi) + s1 * eLo
        let expHi, expLo = scaledHi * s2, scaledLo * s2
        let dHi = V.One + expHi
        let dLo = (V.One - dHi) + expHi + expLo
        let positive = Vector256.GreaterThanOrEqual(x, V.Zero)
        let t = divide (Vector256.ConditionalSelect(positive, V.One, expHi)) (Vector256.ConditionalSelect(positive, V.Zero, expLo)) dHi dLo
        keepNaN x t

    /// a + b = sum + error exactly, whatever their magnitudes (Knuth's TwoSum).
    let inline private twoSum (a: V) (b: V) : struct (V * V) =
        let sum = a + b
        let bPart = sum - a
        struct (sum, (a - (sum - bPart)) + (b - bPart))

    /// eˣ − 1 of each lane, within 0.75 ulp (measured: 0.69) also where eˣ is near 1 and eˣ − 1 would cancel.
    /// With x = k·ln2 + r, eˣ − 1 = 2ᵏ·expm1(r) + (2ᵏ − 1): 2ᵏ·expm1(r) is exact (a power of 2 times a double),
    /// and 2ᵏ − 1 and the sum are formed with their rounding errors, so one rounding is left. From k = 61 on
    /// the −1 is below 2⁻⁸ ulp of eˣ, so eˣ = 2ᵏ·(1 + expm1(r)) is scaled in two halves and overflows only
    /// where eˣ does (x > 709.78). x is held in [−40, 710]: below −40, eˣ is under a quarter-ulp of 1 and the
    /// result −1. Zeros keep their sign.
    let expm1Vector (x: Vector256<float>) : Vector256<float> =
        let a = Vector256.Min(Vector256.Max(x, Vector256.Create -40.0), Vector256.Create 710.0)
        let kBits, eHi, eLo = reduce a
        let s = pow2 kBits
        let struct (mHi, mLo) = twoSum s -V.One
        let struct (uHi, uLo) = twoSum mHi (s * eHi)
        let near = uHi + (uLo + Vector256.FusedMultiplyAdd(s, eLo, mLo))
        let half = Vector256.ShiftRightArithmetic(kBits, 1)
        let oneHi = V.One + eHi
        let oneLo = (V.One - oneHi) + eHi + eLo
        let far = (oneHi + oneLo) * pow2 half * pow2 (kBits - half)
        let result = Vector256.ConditionalSelect(Vector256.GreaterThan(kBits, Vector256.Create 60L).AsDouble(), far, near)
        keepNaN x (Vector256.ConditionalSelect(Vector256.Equals(x, V.Zero), x, result))

    /// tanh x, with the bits of `tanhVector`.
    let tanh (x: float) : float = (tanhVector (Vector256.Create x)).ToScalar()

    /// The logistic function 1/(1 + e⁻ˣ), with the bits of `sigmoidVector`.
    let sigmoid (x: float) : float = (sigmoidVector (Vector256.Create x)).ToScalar()

    /// eˣ − 1, with the bits of `expm1Vector`.
    let expm1 (x: float) : float = (expm1Vector (Vector256.Create x)).ToScalar()

    /// Applies a lane function to every element of a span in place; the tail shorter than a vector goes
    /// through a padded vector, so every element gets the same bits wherever it sits.
    let inline private apply ([<InlineIfLambda>] f: V -> V) (values: Span<float>) =
        let full = values.Length - values.Length % V.Count
        let start = &MemoryMarshal.GetReference values
        let mutable i = 0
        while i < full do
            (f (Vector256.LoadUnsafe(&start, unativeint i))).StoreUnsafe(&start, unativeint i)
            i <- i + V.Count
        if full < values.Length then
            // Built lane by lane rather than through a scratch array: narrow rows (hidden 2, 6, …) take this
            // path at every step, and it should not allocate.
            let tail = values.Length - full
            let result =
                f (Vector256.Create(values.[full], (if tail > 1 then values.[full + 1] else 0.0),
                                    (if tail > 2 then values.[full + 2] else 0.0), 0.0))
            for j in 0 .. values.Length - full - 1 do
                values.[full + j] <- result.GetElement j

    /// tanh of every element of a span, in place.
    let tanhInPlace (values: Span<float>) : unit = apply tanhVector values

    /// The logistic function of every element of a span, in place.
    let sigmoidInPlace (values: Span<float>) : unit = apply sigmoidVector values

    /// eˣ − 1 of every element of a span, in place.
    let expm1InPlace (values: Span<float>) : unit = apply expm1Vector values

    /// dst = x + y element-wise (spans of one length); the bits of scalar adds, four lanes at a time.
    let add (x: ReadOnlySpan<float>) (y: ReadOnlySpan<float>) (dst: Span<float>) : unit =
        if x.Length <> dst.Length || y.Length <> dst.Length then
            invalidArg "dst" (sprintf "spans of lengths %d, %d and %d cannot be added element-wise" x.Length y.Length dst.Length)
        let rx = &MemoryMarshal.GetReference x
        let ry = &MemoryMarshal.GetReference y
        let rd = &MemoryMarshal.GetReference dst
        let full = dst.Length - dst.Length % V.Count
        let mutable i = 0
        while i < full do
            (Vector256.LoadUnsafe(&rx, unativeint i) + Vector256.LoadUnsafe(&ry, unativeint i)).StoreUnsafe(&rd, unativeint i)
            i <- i + V.Count
        for j in full .. dst.Length - 1 do
            dst.[j] <- x.[j] + y.[j]

    /// dst[j] += Σ_r rows[r·width + j] for rows of `width` values laid end to end, rows added in order (the
    /// adjoint of a bias added to every row).
    let addColumnSums (rows: ReadOnlySpan<float>) (width: int) (dst: Span<float>) : unit =
        if width <> dst.Length || width <= 0 || rows.Length % width <> 0 then
            invalidArg "rows" (sprintf "%d values are not whole rows of width %d (destination %d)" rows.Length width dst.Length)
        for r in 0 .. rows.Length / width - 1 do
            add (Span<float>.op_Implicit dst) (rows.Slice(r * width, width)) dst

    /// adjoint[i] ← adjoint[i]·(1 − y[i]²): the chain rule through y = tanh x, with tanh′ read off y.
    let tanhAdjoint (y: ReadOnlySpan<float>) (adjoint: Span<float>) : unit =
        if y.Length <> adjoint.Length then
            invalidArg "adjoint" (sprintf "%d values and %d adjoints" y.Length adjoint.Length)
        let ry = &MemoryMarshal.GetReference y
        let ra = &MemoryMarshal.GetReference adjoint
        let full = y.Length - y.Length % V.Count
        let mutable i = 0
        while i < full do
            let v = Vector256.LoadUnsafe(&ry, unativeint i)
            (Vector256.LoadUnsafe(&ra, unativeint i) * (V.One - v * v)).StoreUnsafe(&ra, unativeint i)
            i <- i + V.Count
        for j in full .. y.Length - 1 do
            adjoint.[j] <- adjoint.[j] * (1.0 - y.[j] * y.[j])
