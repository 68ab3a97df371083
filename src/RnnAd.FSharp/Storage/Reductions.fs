namespace RnnAd.FSharp.Storage

open System

/// Reductions over all elements or along one dimension (sum, extremes, product, norm, running sums), and
/// the pair broadcastTo / sumToShape that moves values between a shape and a broadcast of it (the reverse
/// rule of every broadcasting op).
[<RequireQualifiedAccess>]
module Reductions =

    /// Σ of all elements, as a scalar.
    let sumAll (a: RawTensor) : RawTensor =
        let mutable acc = 0.0
        for v in a.Data do
            acc <- acc + v
        RawTensor.scalar acc

    /// Σ along `dim`.
    let sumDim (dim: int) (keepDim: bool) (a: RawTensor) : RawTensor =
        let dim = Shape.normalizeDim "sum" a.Rank dim
        let struct (outer, n, inner) = Shape.around a.Shape dim
        let src = a.Data
        let out = Array.zeroCreate (outer * inner)
        for o in 0 .. outer - 1 do
            let dst = o * inner
            for i in 0 .. n - 1 do
                let s = (o * n + i) * inner
                for j in 0 .. inner - 1 do
                    out.[dst + j] <- out.[dst + j] + src.[s + j]
        RawTensor.ofOwned (Shape.reduce a.Shape dim keepDim) out

    /// The index of the extreme value along `dim` for every position of the other dimensions, as (outer,
    /// inner) positions of a `Shape.around` split: the first entry that no later one is `better` than. NaN
    /// beats everything (it propagates, as in PyTorch), and the first NaN ends the search.
    let private argExtremeAround (op: string) (better: float -> float -> bool) (a: RawTensor) (dim: int) : int[] =
        let struct (outer, n, inner) = Shape.around a.Shape dim
        if n = 0 then Shape.fail op (sprintf "cannot reduce an empty dimension %d of shape %s" dim (Shape.format a.Shape))
        let src = a.Data
        let out = Array.zeroCreate (outer * inner)
        for o in 0 .. outer - 1 do
            for j in 0 .. inner - 1 do
                let mutable best = 0
                let mutable bv = src.[o * n * inner + j]
                let mutable i = 1
                while i < n && not (Double.IsNaN bv) do
                    let v = src.[(o * n + i) * inner + j]
                    if better v bv || Double.IsNaN v then
                        best <- i
                        bv <- v
                    i <- i + 1
                out.[o * inner + j] <- best
        out

    let private larger (v: float) (best: float) = v > best
    let private smaller (v: float) (best: float) = v < best

    /// Indices of the maxima along `dim` (first on ties), shape without `dim` (or with it as 1).
    let argmaxDim (dim: int) (keepDim: bool) (a: RawTensor) : int[] * int[] =
        let dim = Shape.normalizeDim "argmax" a.Rank dim
        argExtremeAround "max" larger a dim, Shape.reduce a.Shape dim keepDim

    /// Indices of the minima along `dim` (first on ties), shape without `dim` (or with it as 1).
    let argminDim (dim: int) (keepDim: bool) (a: RawTensor) : int[] * int[] =
        let dim = Shape.normalizeDim "argmin" a.Rank dim
        argExtremeAround "min" smaller a dim, Shape.reduce a.Shape dim keepDim

    /// Flat index of the largest element (first on ties; NaN counts as largest).
    let argmaxAll (a: RawTensor) : int =
        if a.Numel = 0 then Shape.fail "argmax" "cannot take the argmax of an empty tensor"
        (argExtremeAround "max" larger (RawTensor.ofOwned [| a.Numel |] a.Data) 0).[0]

    /// Flat index of the smallest element (first on ties; NaN counts as smallest).
    let argminAll (a: RawTensor) : int =
        if a.Numel = 0 then Shape.fail "argmin" "cannot take the argmin of an empty tensor"
        (argExtremeAround "min" smaller (RawTensor.ofOwned [| a.Numel |] a.Data) 0).[0]

    /// The entries of `a` at the given positions along `dim` (one per slice, as the arg-reductions return
    /// them), shaped as a reduction along `dim`.
    let private pickAlong (dim: int) (keepDim: bool) (a: RawTensor) (idx: int[]) : RawTensor =
        let struct (_, n, inner) = Shape.around a.Shape dim
        let src = a.Data
        let out = idx |> Array.mapi (fun p i -> src.[((p / inner) * n + i) * inner + p % inner])
        RawTensor.ofOwned (Shape.reduce a.Shape dim keepDim) out

    /// Maxima along `dim`.
    let maxDim (dim: int) (keepDim: bool) (a: RawTensor) : RawTensor =
        let dim = Shape.normalizeDim "max" a.Rank dim
        pickAlong dim keepDim a (argExtremeAround "max" larger a dim)

    /// Minima along `dim`.
    let minDim (dim: int) (keepDim: bool) (a: RawTensor) : RawTensor =
        let dim = Shape.normalizeDim "min" a.Rank dim
        pickAlong dim keepDim a (argExtremeAround "min" smaller a dim)

    /// Π along `dim` (1 for an empty dimension).
    let prodDim (dim: int) (keepDim: bool) (a: RawTensor) : RawTensor =
        let dim = Shape.normalizeDim "prod" a.Rank dim
        let struct (outer, n, inner) = Shape.around a.Shape dim
        let src = a.Data
        let out = Array.create (outer * inner) 1.0
        for o in 0 .. outer - 1 do
            for i in 0 .. n - 1 do
                let s = (o * n + i) * inner
                for j in 0 .. inner - 1 do
                    out.[o * inner + j] <- out.[o * inner + j] * src.[s + j]
        RawTensor.ofOwned (Shape.reduce a.Shape dim keepDim) out

    /// For every entry, the product of the other entries of its slice along `dim`: Π_{j≠i} a_j, the partial
    /// derivatives of a product. Computed as (product of those before) · (product of those after), so a zero
    /// entry costs no division and several zeros give exact zeros.
    let prodOthersDim (dim: int) (a: RawTensor) : RawTensor =
        let dim = Shape.normalizeDim "prod" a.Rank dim
        let struct (outer, n, inner) = Shape.around a.Shape dim
        let src = a.Data
        let out = Array.zeroCreate a.Numel
        for o in 0 .. outer - 1 do
            for j in 0 .. inner - 1 do
                let at i = (o * n + i) * inner + j
                let mutable before = 1.0
                for i in 0 .. n - 1 do
                    out.[at i] <- before
                    before <- before * src.[at i]
                let mutable after = 1.0
                for i in n - 1 .. -1 .. 0 do
                    out.[at i] <- out.[at i] * after
                    after <- after * src.[at i]
        RawTensor.ofOwned a.Shape out

    /// Running sums along `dim`: entry i is Σ_{j≤i} a_j, or Σ_{j≥i} a_j when `fromEnd`.
    let cumsumDim (dim: int) (fromEnd: bool) (a: RawTensor) : RawTensor =
        let dim = Shape.normalizeDim "cumsum" a.Rank dim
        let struct (outer, n, inner) = Shape.around a.Shape dim
        let src = a.Data
        let out = Array.copy src
        // Entry i adds the running sum already held by its neighbour on the side the scan comes from.
        let addFrom (o: int) (i: int) (neighbour: int) =
            let d = (o * n + i) * inner
            let s = (o * n + neighbour) * inner
            for j in 0 .. inner - 1 do
                out.[d + j] <- out.[d + j] + out.[s + j]
        for o in 0 .. outer - 1 do
            if fromEnd then
                for i in n - 2 .. -1 .. 0 do addFrom o i (i + 1)
            else
                for i in 1 .. n - 1 do addFrom o i (i - 1)
        RawTensor.ofOwned a.Shape out

    /// The p-norm along `dim`, (Σ|a|ᵖ)^(1/p), for p ≥ 1 (plain sums for p = 1 and 2, no rescaling).
    let normDim (p: float) (dim: int) (keepDim: bool) (a: RawTensor) : RawTensor =
        let dim = Shape.normalizeDim "norm" a.Rank dim
        let struct (outer, n, inner) = Shape.around a.Shape dim
        let src = a.Data
        let power (v: float) = if p = 2.0 then v * v elif p = 1.0 then Math.Abs v else Math.Pow(Math.Abs v, p)
        let root (s: float) = if p = 2.0 then Math.Sqrt s elif p = 1.0 then s else Math.Pow(s, 1.0 / p)
        let out = Array.zeroCreate (outer * inner)
        for o in 0 .. outer - 1 do
            for i in 0 .. n - 1 do
                let s = (o * n + i) * inner
                for j in 0 .. inner - 1 do
                    out.[o * inner + j] <- out.[o * inner + j] + power src.[s + j]
        RawTensor.ofOwned (Shape.reduce a.Shape dim keepDim) (Array.map root out)

    /// Repeats `a` along broadcast dimensions until it has `shape` (NumPy rules).
    let broadcastTo (shape: int[]) (a: RawTensor) : RawTensor =
        if Shape.equal a.Shape shape then a
        else
            let target = Shape.broadcast "broadcastTo" a.Shape shape
            if not (Shape.equal target shape) then
                Shape.fail "broadcastTo" (sprintf "shape %s cannot be broadcast to %s" (Shape.format a.Shape) (Shape.format shape))
            Elementwise.map2 "broadcastTo" (fun x _ -> x) a (RawTensor.ofOwned shape (Array.zeroCreate (Shape.numel shape)))

    /// Sums `a` over the dimensions along which `shape` was broadcast to `a`'s shape: the adjoint of broadcastTo.
    let sumToShape (shape: int[]) (a: RawTensor) : RawTensor =
        if Shape.equal a.Shape shape then a
        else
            let full = Shape.broadcast "sumToShape" shape a.Shape
            if not (Shape.equal full a.Shape) then
                Shape.fail "sumToShape" (sprintf "shape %s is not a broadcast of %s" (Shape.format a.Shape) (Shape.format shape))
            let n = Shape.numel shape
            let out = Array.zeroCreate n
            let src = a.Data
            if n = 1 then
                let mutable acc = 0.0
                for v in src do
                    acc <- acc + v
                out.[0] <- acc
            elif src.Length > 0 then
                // Walk the source with a carried multi-index; the target advances by its broadcast strides.
                let st = Shape.broadcastStrides shape a.Shape
                let r = a.Rank
                let idx = Array.zeroCreate r
                let mutable t = 0
                for s in 0 .. src.Length - 1 do
                    out.[t] <- out.[t] + src.[s]
                    let mutable d = r - 1
                    while d >= 0 do
                        idx.[d] <- idx.[d] + 1
                        t <- t + st.[d]
                        if idx.[d] = a.Shape.[d] then
                            t <- t - st.[d] * a.Shape.[d]
                            idx.[d] <- 0
                            d <- d - 1
                        else d <- -1
            RawTensor.ofOwned (Array.copy shape) out

    /// log Σ exp along `dim`, shifted by the maximum so that it neither overflows nor underflows.
    let logSumExpDim (dim: int) (keepDim: bool) (a: RawTensor) : RawTensor =
        let dim = Shape.normalizeDim "logSumExp" a.Rank dim
        let struct (outer, n, inner) = Shape.around a.Shape dim
        let src = a.Data
        let out = Array.zeroCreate (outer * inner)
        for o in 0 .. outer - 1 do
            for j in 0 .. inner - 1 do
                let mutable m = Double.NegativeInfinity
                for i in 0 .. n - 1 do
                    let v = src.[(o * n + i) * inner + j]
                    if v > m || Double.IsNaN v then m <- v
                let mutable s = 0.0
                if Double.IsInfinity m then s <- 1.0
                else
                    for i in 0 .. n - 1 do
                        s <- s + Math.Exp(src.[(o * n + i) * inner + j] - m)
                out.[o * inner + j] <- m + Math.Log s
        RawTensor.ofOwned (Shape.reduce a.Shape dim keepDim) out
