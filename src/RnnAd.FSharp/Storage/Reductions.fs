namespace RnnAd.FSharp.Storage

open System

/// Reductions over all elements or along one dimension, and the pair broadcastTo / sumToShape that
/// moves values between a shape and a broadcast of it (the reverse rule of every broadcasting op).
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

    /// The index of the largest value along `dim` for every position of the other dimensions, as
    /// (outer, inner) positions of a `Shape.around` split. Ties go to the first; NaN counts as largest.
    let private argmaxAround (a: RawTensor) (dim: int) : int[] =
        let struct (outer, n, inner) = Shape.around a.Shape dim
        if n = 0 then Shape.fail "max" (sprintf "cannot reduce an empty dimension %d of shape %s" dim (Shape.format a.Shape))
        let src = a.Data
        let out = Array.zeroCreate (outer * inner)
        for o in 0 .. outer - 1 do
            for j in 0 .. inner - 1 do
                let mutable best = 0
                let mutable bv = src.[o * n * inner + j]
                let mutable i = 1
                while i < n && not (Double.IsNaN bv) do
                    let v = src.[(o * n + i) * inner + j]
                    if v > bv || Double.IsNaN v then
                        best <- i
                        bv <- v
                    i <- i + 1
                out.[o * inner + j] <- best
        out

    /// Indices of the maxima along `dim` (first on ties), shape without `dim` (or with it as 1).
    let argmaxDim (dim: int) (keepDim: bool) (a: RawTensor) : int[] * int[] =
        let dim = Shape.normalizeDim "argmax" a.Rank dim
        argmaxAround a dim, Shape.reduce a.Shape dim keepDim

    /// Flat index of the largest element (first on ties; NaN counts as largest).
    let argmaxAll (a: RawTensor) : int =
        if a.Numel = 0 then Shape.fail "argmax" "cannot take the argmax of an empty tensor"
        (argmaxAround (RawTensor.ofOwned [| a.Numel |] a.Data) 0).[0]

    /// Maxima along `dim`.
    let maxDim (dim: int) (keepDim: bool) (a: RawTensor) : RawTensor =
        let dim = Shape.normalizeDim "max" a.Rank dim
        let struct (_, n, inner) = Shape.around a.Shape dim
        let idx = argmaxAround a dim
        let src = a.Data
        let out = idx |> Array.mapi (fun p i -> src.[((p / inner) * n + i) * inner + p % inner])
        RawTensor.ofOwned (Shape.reduce a.Shape dim keepDim) out

    /// A 0/1 tensor of `a`'s shape with a 1 at the maximum along `dim` (the first on ties): the route a
    /// max sends its gradient along.
    let argmaxMask (dim: int) (a: RawTensor) : RawTensor =
        let dim = Shape.normalizeDim "max" a.Rank dim
        let struct (_, n, inner) = Shape.around a.Shape dim
        let idx = argmaxAround a dim
        let out = Array.zeroCreate a.Numel
        idx |> Array.iteri (fun p i -> out.[((p / inner) * n + i) * inner + p % inner] <- 1.0)
        RawTensor.ofOwned a.Shape out

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
