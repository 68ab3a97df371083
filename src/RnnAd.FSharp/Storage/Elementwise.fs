namespace RnnAd.FSharp.Storage

open System

/// Element-wise kernels: unary maps and binary maps with NumPy broadcasting.
[<RequireQualifiedAccess>]
module Elementwise =

    /// Applies `f` to every element.
    let inline internal map ([<InlineIfLambda>] f: float -> float) (a: RawTensor) : RawTensor =
        let src = a.Data
        let dst = Array.zeroCreate src.Length
        for i in 0 .. src.Length - 1 do
            dst.[i] <- f src.[i]
        RawTensor.ofOwned a.Shape dst

    /// `small` is a suffix of `big` once its leading 1s are dropped: (H) or (1, H) against (B, T, H).
    let internal isSuffix (small: int[]) (big: int[]) =
        let mutable lead = 0
        while lead < small.Length && small.[lead] = 1 do
            lead <- lead + 1
        let tail = small.Length - lead
        tail <= big.Length && small.Length <= big.Length
        && ReadOnlySpan(small, lead, tail).SequenceEqual(ReadOnlySpan(big, big.Length - tail, tail))

    /// The general broadcasting loop: walks the output with a carried multi-index, innermost dimension in
    /// a tight loop. Not inlined: it is the slow path, taken only for unusual broadcast patterns.
    let internal broadcastGeneral (f: OptimizedClosures.FSharpFunc<float, float, float>) (shape: int[]) (a: RawTensor) (b: RawTensor) =
        let n = Shape.numel shape
        let out = Array.zeroCreate n
        let r = shape.Length
        if n > 0 then
            let sa = Shape.broadcastStrides a.Shape shape
            let sb = Shape.broadcastStrides b.Shape shape
            let ad, bd = a.Data, b.Data
            let last = shape.[r - 1]
            let sal, sbl = sa.[r - 1], sb.[r - 1]
            let idx = Array.zeroCreate r
            let mutable ia = 0
            let mutable ib = 0
            let mutable o = 0
            while o < n do
                let mutable pa = ia
                let mutable pb = ib
                for j in 0 .. last - 1 do
                    out.[o + j] <- f.Invoke(ad.[pa], bd.[pb])
                    pa <- pa + sal
                    pb <- pb + sbl
                o <- o + last
                let mutable d = r - 2
                while d >= 0 do
                    idx.[d] <- idx.[d] + 1
                    ia <- ia + sa.[d]
                    ib <- ib + sb.[d]
                    if idx.[d] = shape.[d] then
                        ia <- ia - sa.[d] * shape.[d]
                        ib <- ib - sb.[d] * shape.[d]
                        idx.[d] <- 0
                        d <- d - 1
                    else d <- -1
        RawTensor.ofOwned shape out

    /// Applies `f` pairwise under NumPy broadcasting. Same shapes, a scalar operand and a trailing-suffix
    /// operand (a bias row) take tight loops; other patterns take the general walk.
    let inline internal map2 (op: string) ([<InlineIfLambda>] f: float -> float -> float) (a: RawTensor) (b: RawTensor) : RawTensor =
        let ad, bd = a.Data, b.Data
        if Shape.equal a.Shape b.Shape then
            let out = Array.zeroCreate ad.Length
            for i in 0 .. ad.Length - 1 do
                out.[i] <- f ad.[i] bd.[i]
            RawTensor.ofOwned a.Shape out
        elif bd.Length = 1 && b.Rank <= a.Rank then
            let y = bd.[0]
            let out = Array.zeroCreate ad.Length
            for i in 0 .. ad.Length - 1 do
                out.[i] <- f ad.[i] y
            RawTensor.ofOwned a.Shape out
        elif ad.Length = 1 && a.Rank <= b.Rank then
            let x = ad.[0]
            let out = Array.zeroCreate bd.Length
            for i in 0 .. bd.Length - 1 do
                out.[i] <- f x bd.[i]
            RawTensor.ofOwned b.Shape out
        elif bd.Length > 0 && isSuffix b.Shape a.Shape then
            let w = bd.Length
            let out = Array.zeroCreate ad.Length
            for r in 0 .. ad.Length / w - 1 do
                let o = r * w
                for j in 0 .. w - 1 do
                    out.[o + j] <- f ad.[o + j] bd.[j]
            RawTensor.ofOwned a.Shape out
        elif ad.Length > 0 && isSuffix a.Shape b.Shape then
            let w = ad.Length
            let out = Array.zeroCreate bd.Length
            for r in 0 .. bd.Length / w - 1 do
                let o = r * w
                for j in 0 .. w - 1 do
                    out.[o + j] <- f ad.[j] bd.[o + j]
            RawTensor.ofOwned b.Shape out
        else
            let shape = Shape.broadcast op a.Shape b.Shape
            broadcastGeneral (OptimizedClosures.FSharpFunc<_, _, _>.Adapt f) shape a b

    /// a + b
    let add a b = map2 "add" (fun x y -> x + y) a b
    /// a − b
    let sub a b = map2 "sub" (fun x y -> x - y) a b
    /// a · b
    let mul a b = map2 "mul" (fun x y -> x * y) a b
    /// a / b
    let div a b = map2 "div" (fun x y -> x / y) a b
    /// a ^ b
    let pow a b = map2 "pow" (fun x y -> Math.Pow(x, y)) a b
    /// 1 where a > b, else 0
    let greater a b = map2 "greater" (fun x y -> if x > y then 1.0 else 0.0) a b
    /// 1 where a ≥ b, else 0
    let greaterEqual a b = map2 "greaterEqual" (fun x y -> if x >= y then 1.0 else 0.0) a b
    /// 1 where a < b, else 0
    let less a b = map2 "less" (fun x y -> if x < y then 1.0 else 0.0) a b
    /// 1 where a ≤ b, else 0
    let lessEqual a b = map2 "lessEqual" (fun x y -> if x <= y then 1.0 else 0.0) a b
    /// 1 where a = b, else 0
    let equal a b = map2 "equal" (fun x y -> if x = y then 1.0 else 0.0) a b
    /// 1 where a ≠ b (and where either is NaN), else 0
    let notEqual a b = map2 "notEqual" (fun x y -> if x = y then 0.0 else 1.0) a b
    /// Element-wise maximum (NaN wins, as in PyTorch).
    let maximum a b = map2 "maximum" (fun x y -> if Double.IsNaN x || x >= y then x else y) a b
    /// Element-wise minimum (NaN wins, as in PyTorch).
    let minimum a b = map2 "minimum" (fun x y -> if Double.IsNaN x || x <= y then x else y) a b
    /// The share of max(a, b)'s gradient that goes to a: 1 where a > b, ½ on ties, 0 where a < b, and 1
    /// where either is NaN (PyTorch's rule; its masks a = b and a < b are false there).
    let maximumShare a b = map2 "maximum" (fun x y -> if x < y then 0.0 elif x = y then 0.5 else 1.0) a b
    /// The share of min(a, b)'s gradient that goes to a: 1 where a < b, ½ on ties, 0 where a > b, and 1
    /// where either is NaN.
    let minimumShare a b = map2 "minimum" (fun x y -> if x > y then 0.0 elif x = y then 0.5 else 1.0) a b
    /// a where mask ≠ 0, else 0 (broadcasting): a selection, so what a holds where the mask is 0, ∞ or NaN
    /// included, never reaches the result.
    let keepWhere mask a = map2 "keepWhere" (fun m x -> if m <> 0.0 then x else 0.0) mask a
    /// 0 where a = 0 and b ≥ 0, else 1: where PyTorch takes the derivative of aᵇ in b, aᵇ·ln a, to be 0
    let powExponentMask a b = map2 "pow" (fun x y -> if x = 0.0 && y >= 0.0 then 0.0 else 1.0) a b

    /// −a
    let neg a = map (fun x -> -x) a
    /// eˣ
    let exp a = map Math.Exp a
    /// ln x
    let log a = map Math.Log a
    /// sin x
    let sin a = map Math.Sin a
    /// cos x
    let cos a = map Math.Cos a
    /// ln(1 + x), accurate for tiny x (`SpecialFunctions.log1p`)
    let log1p a = map SpecialFunctions.log1p a
    /// eˣ − 1, accurate for tiny x (`VectorMath.expm1`)
    let expm1 (a: RawTensor) =
        let out = Array.copy a.Data
        VectorMath.expm1InPlace (Span out)
        RawTensor.ofOwned a.Shape out
    /// The error function (`SpecialFunctions.erf`)
    let erf a = map SpecialFunctions.erf a
    /// 1/x
    let reciprocal a = map (fun x -> 1.0 / x) a
    /// x²
    let square a = map (fun x -> x * x) a
    /// tanh x (`VectorMath.tanh`)
    let tanh (a: RawTensor) =
        let out = Array.copy a.Data
        VectorMath.tanhInPlace (Span out)
        RawTensor.ofOwned a.Shape out
    /// The logistic function 1/(1 + e⁻ˣ) (`VectorMath.sigmoid`)
    let sigmoid (a: RawTensor) =
        let out = Array.copy a.Data
        VectorMath.sigmoidInPlace (Span out)
        RawTensor.ofOwned a.Shape out
    /// max(x, 0)
    let relu a = map (fun x -> if x > 0.0 then x else if Double.IsNaN x then x else 0.0) a
    /// x for x > 0, slope·x otherwise (PyTorch's leaky_relu)
    let leakyRelu (slope: float) a = map (fun x -> if x > 0.0 then x else slope * x) a
    /// x for x > 0, α·(eˣ − 1) otherwise (PyTorch's elu)
    let elu (alpha: float) a = map (fun x -> if x > 0.0 then x else alpha * VectorMath.expm1 x) a
    /// ln(1 + eˣ), and x itself above 20 (PyTorch's softplus with β = 1 and threshold 20)
    let softplus a = map (fun x -> if x > 20.0 then x else SpecialFunctions.log1p (Math.Exp x)) a
    /// x·σ(x) (`VectorMath.sigmoid`)
    let silu (a: RawTensor) =
        let out = Array.copy a.Data
        VectorMath.sigmoidInPlace (Span out)
        for i in 0 .. out.Length - 1 do
            out.[i] <- a.Data.[i] * out.[i]
        RawTensor.ofOwned a.Shape out
    /// x·Φ(x) = x/2·(1 + erf(x/√2)), PyTorch's exact GELU, in its order of operations
    let gelu a = map (fun x -> x * 0.5 * (1.0 + SpecialFunctions.erf (x * 0.7071067811865476))) a
    /// √x
    let sqrt a = map Math.Sqrt a
    /// |x|
    let abs a = map Math.Abs a
    /// −1, 0 or 1 (NaN stays NaN)
    let sign a = map (fun x -> if x > 0.0 then 1.0 elif x < 0.0 then -1.0 else x) a
    /// xᵖ for a constant p
    let powScalar (p: float) a =
        if p = 2.0 then map (fun x -> x * x) a else map (fun x -> Math.Pow(x, p)) a
    /// x clamped into [low, high]
    let clamp (low: float) (high: float) a = map (fun x -> if x < low then low elif x > high then high else x) a
    /// 1 where low ≤ x ≤ high, else 0: where a clamp passes its gradient through
    let insideMask (low: float) (high: float) a = map (fun x -> if x >= low && x <= high then 1.0 else 0.0) a
    /// 1 where x > threshold, else 0
    let aboveMask (threshold: float) a = map (fun x -> if x > threshold then 1.0 else 0.0) a
    /// 1 where x > 0, else 0: where relu passes its gradient through
    let positiveMask a = aboveMask 0.0 a
    /// 1 where |x| < bound, else 0
    let absBelowMask (bound: float) a = map (fun x -> if Math.Abs x < bound then 1.0 else 0.0) a
