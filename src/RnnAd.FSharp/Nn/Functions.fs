namespace RnnAd.FSharp

open System
open RnnAd
open RnnAd.FSharp.Storage

/// How a loss over many positions is reduced to one number.
[<RequireQualifiedAccess>]
type Reduction =
    /// Average over the positions that count.
    | Mean
    /// Sum over the positions that count.
    | Sum

/// Neural-network functions over tensors, with PyTorch's conventions: a linear layer stores its weight as
/// (out, in) and computes x·Wᵀ + b; class scores are the last dimension.
[<RequireQualifiedAccess>]
module Nn =

    /// x·Wᵀ + b for x of shape (..., in), W (out, in), b (out): PyTorch's `F.linear`.
    let linear (weight: Tensor) (bias: Tensor) (x: Tensor) : Tensor =
        if Op.fusable [| x; weight; bias |] then FusedOps.linear weight bias x
        else Tensor.MatMul(x, weight, transB = true) + bias

    /// x·Wᵀ without a bias.
    let linearNoBias (weight: Tensor) (x: Tensor) : Tensor = Tensor.MatMul(x, weight, transB = true)

    /// Rows of an embedding table (vocabulary, dim) for token ids laid out as `indexShape`.
    let embedding (table: Tensor) (indexShape: int[]) (ids: int[]) : Tensor = table.GatherRows(ids, indexShape)

    /// Constant one-hot vectors (…, classes) for token ids laid out as `indexShape`.
    let oneHot (classes: int) (indexShape: int[]) (ids: int[]) : Tensor = Tensor.OneHot(classes, ids, indexShape)

    /// The logistic function.
    let sigmoid (x: Tensor) : Tensor = x.Sigmoid()

    /// max(x, 0).
    let relu (x: Tensor) : Tensor = x.Relu()

    /// x for x > 0, slope·x otherwise (PyTorch's `F.leaky_relu`, whose default slope is 0.01).
    let leakyRelu (slope: float) (x: Tensor) : Tensor = x.LeakyRelu slope

    /// x for x > 0, α·(eˣ − 1) otherwise (PyTorch's `F.elu`, whose default α is 1).
    let elu (alpha: float) (x: Tensor) : Tensor = x.Elu alpha

    /// ln(1 + eˣ), and x above 20 (PyTorch's `F.softplus` with its defaults β = 1, threshold 20).
    let softplus (x: Tensor) : Tensor = x.Softplus()

    /// x·σ(x) (PyTorch's `F.silu`).
    let silu (x: Tensor) : Tensor = x.Silu()

    /// x·Φ(x), Φ the standard normal distribution function (PyTorch's `F.gelu`, exact form).
    let gelu (x: Tensor) : Tensor = x.Gelu()

    /// log softmax along `dim`, as (x − m) − log Σ exp(x − m) with m the maximum along `dim` (0 where it is
    /// infinite). x − m is exact near the maximum, so the result keeps its relative accuracy however large
    /// the logits: x − log Σ exp(x) would subtract a log-sum-exp rounded at the logits' magnitude (1e-10
    /// near 1e6). m cancels from the value, so it is held as a constant: its derivative contributes nothing.
    let logSoftmax (dim: int) (x: Tensor) : Tensor =
        let finiteMax (v: RawTensor) = Reductions.maxDim dim true v |> Elementwise.map (fun m -> if Double.IsInfinity m then 0.0 else m)
        let shifted = x - Op.constantOf finiteMax x
        shifted - log ((exp shifted).Sum(dim, keepDim = true))

    /// softmax along `dim`.
    let softmax (dim: int) (x: Tensor) : Tensor = exp (logSoftmax dim x)

    /// Cross-entropy of class scores `logits` (…, C) against class indices, one per leading position
    /// (row-major). `weights`, if given, weighs each position (0 for padding); Mean divides by their sum.
    let crossEntropyWeighted (reduction: Reduction) (weights: float[] option) (targets: int[]) (logits: Tensor) : Tensor =
        if isNull targets then nullArg "targets"
        if logits.Rank < 1 then Shape.fail "crossEntropy" "logits need a class dimension"
        let positions = logits.Numel / max 1 logits.Shape.[logits.Rank - 1]
        if targets.Length <> positions then
            Shape.fail "crossEntropy" (sprintf "%d targets for logits of shape %s (%d positions)" targets.Length (Shape.format logits.Shape) positions)
        let classes = logits.Shape.[logits.Rank - 1]
        targets |> Array.iteri (fun i t ->
            if t < 0 || t >= classes then Shape.fail "crossEntropy" (sprintf "target %d at position %d is outside [0, %d)" t i classes))
        match weights with
        | Some w when w.Length <> positions -> Shape.fail "crossEntropy" (sprintf "%d weights for %d positions" w.Length positions)
        | _ -> ()
        let count = match weights with Some w -> Array.sum w | None -> float positions
        if reduction = Reduction.Mean && count <= 0.0 then
            Shape.fail "crossEntropy" "no position has a positive weight, the mean is undefined"
        let scale = match reduction with Reduction.Sum -> 1.0 | Reduction.Mean -> count
        if Op.fusable [| logits |] then FusedOps.crossEntropy scale weights targets logits
        else
            // Padded positions (weight 0) read zeros instead of their logits, by selection: NaN or ∞ there
            // then reaches neither the loss nor the gradient, as in the fused path.
            let logits =
                match weights with
                | Some w when Array.contains 0.0 w ->
                    let counted = w |> Array.map (fun w -> if w = 0.0 then 0.0 else 1.0)
                    Op.keepWhere (RawTensor.ofArray (Array.append logits.Shape.[.. logits.Rank - 2] [| 1 |]) counted) logits
                | _ -> logits
            let picked = (logSoftmax -1 logits).GatherLast targets
            let nll =
                match weights with
                | None -> -picked.Sum()
                | Some w -> -(picked * Tensor.OfArray(picked.Shape, w)).Sum()
            nll / scale

    /// Mean cross-entropy of class scores (…, C) against one class index per leading position.
    let crossEntropy (targets: int[]) (logits: Tensor) : Tensor = crossEntropyWeighted Reduction.Mean None targets logits

    /// Inverted dropout: zeroes each entry with probability p and scales the rest by 1/(1−p). The mask comes
    /// from the explicit seed, so the same seed drops the same entries.
    let dropout (seed: int) (p: float) (x: Tensor) : Tensor =
        if not (p >= 0.0 && p < 1.0) then Shape.fail "dropout" (sprintf "p must be in [0, 1), got %g" p)
        if p = 0.0 then x
        else
            let keep = RawTensor.randomUniform seed 0.0 1.0 x.Shape |> Elementwise.map (fun u -> if u >= p then 1.0 / (1.0 - p) else 0.0)
            x * Tensor.Constant keep
