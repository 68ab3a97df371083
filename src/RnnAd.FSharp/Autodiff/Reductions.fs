namespace RnnAd.FSharp

open RnnAd
open RnnAd.FSharp.Storage

/// Differentiable reductions: sum, mean, max, min, product and log-sum-exp, over everything or along one
/// dimension, and running sums.
[<AutoOpen>]
module TensorReductions =

    type Tensor with

        /// Σ of all elements, as a scalar: ∂f = Σ da; ā = ḡ broadcast.
        [<CompiledName("Sum")>]
        member a.Sum() : Tensor =
            Op.unary Reductions.sumAll
                (fun _ _ da -> da.Sum())
                (fun a _ g -> g.BroadcastTo a.Shape)
                a

        /// Σ along `dim` (negative counts from the end), keeping it as size 1 if `keepDim`.
        [<CompiledName("Sum")>]
        member a.Sum(dim: int, ?keepDim: bool) : Tensor =
            let keepDim = defaultArg keepDim false
            let dim = Shape.normalizeDim "sum" a.Rank dim
            Op.unary (Reductions.sumDim dim keepDim)
                (fun _ _ da -> da.Sum(dim, keepDim))
                (fun a _ g -> (g.Reshape(Shape.reduce a.Shape dim true)).BroadcastTo a.Shape)
                a

        /// Mean of all elements.
        [<CompiledName("Mean")>]
        member a.Mean() : Tensor = a.Sum() / float a.Numel

        /// Mean along `dim`.
        [<CompiledName("Mean")>]
        member a.Mean(dim: int, ?keepDim: bool) : Tensor =
            let d = Shape.normalizeDim "mean" a.Rank dim
            a.Sum(d, defaultArg keepDim false) / float a.Shape.[d]

        /// The largest element, as a scalar; the gradient goes to the first maximum (PyTorch's whole-tensor
        /// max splits it evenly between tied maxima instead; one route, as max along a dimension, keeps a
        /// gradient check exact at ties).
        [<CompiledName("Max")>]
        member a.Max() : Tensor = a.Reshape([| a.Numel |]).Max(0)

        /// The largest value along `dim`: f = a at the first maximum of each slice (NaN counts as largest).
        /// ∂f = da there; ā = ḡ placed there and 0 elsewhere, by a scatter rather than a product with a 0/1
        /// mask, so an infinite ḡ (as from √ of a maximum of 0) leaves 0, not NaN, on the other entries.
        [<CompiledName("Max")>]
        member a.Max(dim: int, ?keepDim: bool) : Tensor =
            let dim = Shape.normalizeDim "max" a.Rank dim
            Tensor.Extreme(Reductions.maxDim dim, Reductions.argmaxDim dim true, dim, defaultArg keepDim false, a)

        /// The smallest element, as a scalar; the gradient goes to the first minimum.
        [<CompiledName("Min")>]
        member a.Min() : Tensor = a.Reshape([| a.Numel |]).Min(0)

        /// The smallest value along `dim`: f = a at the first minimum of each slice (NaN counts as smallest).
        /// ∂f = da there; ā = ḡ placed there and 0 elsewhere (scattered, as for Max).
        [<CompiledName("Min")>]
        member a.Min(dim: int, ?keepDim: bool) : Tensor =
            let dim = Shape.normalizeDim "min" a.Rank dim
            Tensor.Extreme(Reductions.minDim dim, Reductions.argminDim dim true, dim, defaultArg keepDim false, a)

        /// An extreme along `dim`: `value keepDim` computes it and `position` finds, for every slice, the entry
        /// it is (a shape-with-`dim`-as-1 index into `dim`). That entry is all the derivative sees: the tangent
        /// is gathered from it and the adjoint scattered back to it.
        static member private Extreme(value: bool -> RawTensor -> RawTensor, position: RawTensor -> int[] * int[], dim: int, keepDim: bool, a: Tensor) : Tensor =
            // Every level's primal has the same value, so the positions are found once, and only if a rule asks.
            let at = lazy (position a.Value)
            let gatherAt (t: Tensor) = let idx, kept = at.Value in t.Gather(dim, idx, kept)
            Op.unarySparse (value keepDim)
                (fun _ f da -> (gatherAt da).Reshape f.Shape)
                (fun a _ g -> let idx, kept = at.Value in Tensor.GatherAdjoint(dim, idx, kept, a.Shape, g.Reshape kept))
                a

        /// Π of all elements, as a scalar (1 for an empty tensor).
        [<CompiledName("Prod")>]
        member a.Prod() : Tensor = a.Reshape([| a.Numel |]).Prod(0)

        /// Π along `dim` (1 over an empty dimension): ∂f = Σ da·Π_{j≠i} a_j; ā_i = ḡ·Π_{j≠i} a_j. The products
        /// of the others come from running products, never f / a_i, so zeros are exact: one zero sends the
        /// gradient only to itself, two or more give a zero gradient (PyTorch's results, without a division).
        [<CompiledName("Prod")>]
        member a.Prod(dim: int, ?keepDim: bool) : Tensor =
            let keepDim = defaultArg keepDim false
            let dim = Shape.normalizeDim "prod" a.Rank dim
            let kept = Shape.reduce a.Shape dim true
            Op.unary (Reductions.prodDim dim keepDim)
                (fun a _ da -> (da * Tensor.ProductOfOthers(dim, a)).Sum(dim, keepDim))
                (fun a _ g -> g.Reshape kept * Tensor.ProductOfOthers(dim, a))
                a

        /// Π_{j≠i} a_j along `dim` at every i, the partial derivatives of Prod. A constant takes the raw kernel;
        /// under nested differentiation it is built from slices with differentiable products, which are the
        /// same polynomial, so derivatives of every order stay exact at zeros.
        static member private ProductOfOthers(dim: int, a: Tensor) : Tensor =
            match a with
            | Op.Raw r -> Tensor.Constant(Reductions.prodOthersDim dim r)
            | _ when a.Shape.[dim] = 0 -> a
            | _ ->
                let n = a.Shape.[dim]
                let entries = Array.init n (fun i -> a.Slice(dim, i, 1))
                let one = Tensor.Ones(Shape.reduce a.Shape dim true)
                let before = Array.scan (*) one entries
                let after = Array.scanBack (*) entries one
                Tensor.Concat(Array.init n (fun i -> before.[i] * after.[i + 1]), dim)

        /// Running sums along `dim` (torch.cumsum): f_i = Σ_{j≤i} a_j. ∂f = da's running sums; ā_j = Σ_{i≥j} ḡ_i,
        /// the running sums taken from the end.
        [<CompiledName("CumSum")>]
        member a.CumSum(dim: int) : Tensor =
            let dim = Shape.normalizeDim "cumsum" a.Rank dim
            Tensor.RunningSum(dim, false, a)

        /// Running sums along `dim` from the start, or from the end when `fromEnd`; each direction's adjoint is
        /// the other.
        static member private RunningSum(dim: int, fromEnd: bool, a: Tensor) : Tensor =
            Op.unary (Reductions.cumsumDim dim fromEnd)
                (fun _ _ da -> Tensor.RunningSum(dim, fromEnd, da))
                (fun _ _ g -> Tensor.RunningSum(dim, not fromEnd, g))
                a

        /// log Σ exp along `dim`, computed stably: ∂f = Σ softmax(a)·da.
        [<CompiledName("LogSumExp")>]
        member a.LogSumExp(dim: int, ?keepDim: bool) : Tensor =
            let keepDim = defaultArg keepDim false
            let dim = Shape.normalizeDim "logSumExp" a.Rank dim
            let softmax (a: Tensor) (f: Tensor) = exp (a - f.Reshape(Shape.reduce a.Shape dim true))
            Op.unary (Reductions.logSumExpDim dim keepDim)
                (fun a f da -> (da * softmax a f).Sum(dim, keepDim))
                (fun a f g -> g.Reshape(Shape.reduce a.Shape dim true) * softmax a f)
                a

        /// Flat index of the largest element (not differentiable).
        [<CompiledName("ArgMax")>]
        member a.ArgMax() : int = Reductions.argmaxAll a.Value

        /// Indices of the largest values along `dim`, in row-major order of the remaining dimensions.
        [<CompiledName("ArgMax")>]
        member a.ArgMax(dim: int) : int[] = fst (Reductions.argmaxDim dim false a.Value)

        /// Flat index of the smallest element (not differentiable).
        [<CompiledName("ArgMin")>]
        member a.ArgMin() : int = Reductions.argminAll a.Value

        /// Indices of the smallest values along `dim`, in row-major order of the remaining dimensions.
        [<CompiledName("ArgMin")>]
        member a.ArgMin(dim: int) : int[] = fst (Reductions.argminDim dim false a.Value)
