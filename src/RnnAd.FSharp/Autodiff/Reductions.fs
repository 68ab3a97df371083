namespace RnnAd.FSharp

open RnnAd
open RnnAd.FSharp.Storage

/// Differentiable reductions: sum, mean, max and log-sum-exp, over everything or along one dimension.
[<AutoOpen>]
module TensorReductions =

    type Tensor with

        /// Σ of all elements, as a scalar: ∂f = Σ da; ā = ḡ broadcast.
        member a.Sum() : Tensor =
            Op.unary Reductions.sumAll
                (fun _ _ da -> da.Sum())
                (fun a _ g -> g.BroadcastTo a.Shape)
                a

        /// Σ along `dim` (negative counts from the end), keeping it as size 1 if `keepDim`.
        member a.Sum(dim: int, ?keepDim: bool) : Tensor =
            let keepDim = defaultArg keepDim false
            let dim = Shape.normalizeDim "sum" a.Rank dim
            Op.unary (Reductions.sumDim dim keepDim)
                (fun _ _ da -> da.Sum(dim, keepDim))
                (fun a _ g -> (g.Reshape(Shape.reduce a.Shape dim true)).BroadcastTo a.Shape)
                a

        /// Mean of all elements.
        member a.Mean() : Tensor = a.Sum() / float a.Numel

        /// Mean along `dim`.
        member a.Mean(dim: int, ?keepDim: bool) : Tensor =
            let d = Shape.normalizeDim "mean" a.Rank dim
            a.Sum(d, defaultArg keepDim false) / float a.Shape.[d]

        /// The largest element, as a scalar; the gradient goes to the first maximum.
        member a.Max() : Tensor = a.Reshape([| a.Numel |]).Max(0)

        /// The largest value along `dim`; the gradient goes to the first maximum of each slice.
        member a.Max(dim: int, ?keepDim: bool) : Tensor =
            let keepDim = defaultArg keepDim false
            let dim = Shape.normalizeDim "max" a.Rank dim
            let mask (a: Tensor) = Op.constantOf (Reductions.argmaxMask dim) a
            Op.unary (Reductions.maxDim dim keepDim)
                (fun a _ da -> (da * mask a).Sum(dim, keepDim))
                (fun a _ g -> g.Reshape(Shape.reduce a.Shape dim true) * mask a)
                a

        /// log Σ exp along `dim`, computed stably: ∂f = Σ softmax(a)·da.
        member a.LogSumExp(dim: int, ?keepDim: bool) : Tensor =
            let keepDim = defaultArg keepDim false
            let dim = Shape.normalizeDim "logSumExp" a.Rank dim
            let softmax (a: Tensor) (f: Tensor) = exp (a - f.Reshape(Shape.reduce a.Shape dim true))
            Op.unary (Reductions.logSumExpDim dim keepDim)
                (fun a f da -> (da * softmax a f).Sum(dim, keepDim))
                (fun a f g -> g.Reshape(Shape.reduce a.Shape dim true) * softmax a f)
                a

        /// Flat index of the largest element (not differentiable).
        member a.ArgMax() : int = Reductions.argmaxAll a.Value

        /// Indices of the largest values along `dim`, in row-major order of the remaining dimensions.
        member a.ArgMax(dim: int) : int[] = fst (Reductions.argmaxDim dim false a.Value)
