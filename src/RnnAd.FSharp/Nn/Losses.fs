namespace RnnAd.FSharp

open System
open RnnAd
open RnnAd.FSharp.Storage

/// Losses reduced to their mean over the positions that count. A position is one entry of the leading
/// dimensions (the last dimension holds classes or features: positions = numel / last dimension), and
/// `weights`, if given, holds one weight per position in row-major order, 1 for a real position and 0 for
/// padding. A position of weight 0 contributes exactly nothing, to the value or the gradient, even where its
/// outputs or targets hold NaN or ±∞: its entries are replaced by selection before the loss is formed.
/// With all weights 1 (or None) each loss is PyTorch's with reduction='mean'.
[<RequireQualifiedAccess>]
module Losses =

    /// The shape of a per-position tensor for x: x's shape with the last dimension 1 (a scalar for a scalar).
    let private positionShape (x: Tensor) : int[] =
        if x.Rank = 0 then [||] else Array.append x.Shape.[.. x.Rank - 2] [| 1 |]

    /// Checks weights (one per position, finite, ≥ 0, a positive sum) and returns their sum.
    let private checkWeights (op: string) (shape: int[]) (weights: float[]) : float =
        if isNull weights then nullArg "weights"
        let positions = Shape.numel (if shape.Length = 0 then [||] else shape.[.. shape.Length - 2])
        if weights.Length <> positions then
            Shape.fail op (sprintf "%d weights for the %d positions of shape %s (one per entry of the leading dimensions)" weights.Length positions (Shape.format shape))
        weights |> Array.iteri (fun p w ->
            if not (Double.IsFinite w && w >= 0.0) then
                Shape.fail op (sprintf "weight %g at position %d is not a finite non-negative number" w p))
        let total = Array.sum weights
        if total = 0.0 then Shape.fail op "every position has weight 0: the mean is undefined"
        total

    /// The size of the last dimension (1 for a scalar): the entries of one position.
    let private width (x: Tensor) : int = if x.Rank = 0 then 1 else x.Shape.[x.Rank - 1]

    /// Checks the arguments of an element-wise loss: shapes, weights, and something to average.
    let private checkArguments (op: string) (weights: float[] option) (targets: Tensor) (outputs: Tensor) : unit =
        if isNull (box targets) then nullArg "targets"
        if isNull (box outputs) then nullArg "outputs"
        if not (Shape.equal targets.Shape outputs.Shape) then
            Shape.fail op (sprintf "targets of shape %s do not match outputs of shape %s" (Shape.format targets.Shape) (Shape.format outputs.Shape))
        match weights with
        | Some w -> checkWeights op outputs.Shape w |> ignore
        | None ->
            if outputs.Numel = 0 then Shape.fail op (sprintf "outputs of shape %s are empty: the mean is undefined" (Shape.format outputs.Shape))

    /// Σ_p w_p·Σ_j ℓ(t_pj, o_pj) / (Σ_p w_p · width): the weighted mean of an element-wise loss ℓ over the
    /// counted positions and the last dimension (of size width).
    let private elementwiseMean (op: string) (loss: Tensor -> Tensor -> Tensor) (weights: float[] option) (targets: Tensor) (outputs: Tensor) : Tensor =
        checkArguments op weights targets outputs
        match weights with
        | None -> (loss targets outputs).Mean()
        | Some w ->
            let shape = positionShape outputs
            let counted = RawTensor.ofArray shape (w |> Array.map (fun w -> if w = 0.0 then 0.0 else 1.0))
            let keep (x: Tensor) = Op.keepWhere counted x
            (loss (keep targets) (keep outputs) * Tensor.OfArray(shape, w)).Sum() / (Array.sum w * float (width outputs))

    /// Cross-entropy of class scores `logits` (…, C) against one class index per position:
    /// Σ_p w_p·c_(y_p)·(−log softmax(z_p)_(y_p)) / Σ_p w_p·c_(y_p), with w the position weights and c the class
    /// weights (PyTorch's weighted mean; both default to 1). Without class weights it is
    /// `Nn.crossEntropyWeighted Reduction.Mean weights targets logits`, bit for bit.
    let crossEntropy (classWeights: float[] option) (weights: float[] option) (targets: int[]) (logits: Tensor) : Tensor =
        if isNull targets then nullArg "targets"
        if isNull (box logits) then nullArg "logits"
        let op = "crossEntropy"
        if logits.Rank < 1 then Shape.fail op "logits need a class dimension"
        let classes = logits.Shape.[logits.Rank - 1]
        let positions = Shape.numel logits.Shape.[.. logits.Rank - 2]
        if targets.Length <> positions then
            Shape.fail op (sprintf "%d targets for logits of shape %s (%d positions)" targets.Length (Shape.format logits.Shape) positions)
        targets |> Array.iteri (fun p t ->
            if t < 0 || t >= classes then Shape.fail op (sprintf "target %d at position %d is outside [0, %d)" t p classes))
        weights |> Option.iter (checkWeights op logits.Shape >> ignore)
        match classWeights with
        | None -> Nn.crossEntropyWeighted Reduction.Mean weights targets logits
        | Some c ->
            if isNull c then nullArg "classWeights"
            if c.Length <> classes then
                Shape.fail op (sprintf "%d class weights for logits of shape %s (%d classes)" c.Length (Shape.format logits.Shape) classes)
            c |> Array.iteri (fun k ck ->
                if not (Double.IsFinite ck && ck >= 0.0) then
                    Shape.fail op (sprintf "class weight %g of class %d is not a finite non-negative number" ck k))
            let combined = Array.init positions (fun p -> (match weights with Some w -> w.[p] | None -> 1.0) * c.[targets.[p]])
            if Array.sum combined = 0.0 then
                Shape.fail op "every position has weight 0 once its target's class weight is applied: the mean is undefined"
            Nn.crossEntropyWeighted Reduction.Mean (Some combined) targets logits

    /// Binary cross-entropy of logits z against targets y ∈ [0, 1] of the same shape, each entry its own
    /// label (multi-label): ℓ = max(z, 0) − z·y + log(1 + e^(−|z|)), which is −y·log σ(z) − (1 − y)·log(1 − σ(z))
    /// without overflow; its derivative in z is σ(z) − y, also at z = 0 (max's tie rule gives ½ there).
    let binaryCrossEntropyWithLogits (weights: float[] option) (targets: Tensor) (logits: Tensor) : Tensor =
        let op = "binaryCrossEntropyWithLogits"
        checkArguments op weights targets logits
        let counted (p: int) = match weights with Some w -> w.[p] <> 0.0 | None -> true
        targets.ToArray() |> Array.iteri (fun i y ->
            if counted (i / width targets) && not (y >= 0.0 && y <= 1.0) then
                Shape.fail op (sprintf "target %g at flat index %d is outside [0, 1]" y i))
        elementwiseMean op
            (fun y z -> Tensor.Maximum(z, Tensor.Scalar 0.0) - z * y + (exp (-(abs z))).Log1p())
            weights targets logits

    /// Mean squared error: ℓ = (o − t)².
    let meanSquaredError (weights: float[] option) (targets: Tensor) (outputs: Tensor) : Tensor =
        elementwiseMean "meanSquaredError" (fun t o -> (o - t).Square()) weights targets outputs

    /// Mean absolute error (L1): ℓ = |o − t|, whose derivative in o is sign(o − t), 0 where o = t (as PyTorch).
    let meanAbsoluteError (weights: float[] option) (targets: Tensor) (outputs: Tensor) : Tensor =
        elementwiseMean "meanAbsoluteError" (fun t o -> abs (o - t)) weights targets outputs

    /// Huber loss (PyTorch's HuberLoss): with d = o − t, ℓ = d²/2 where |d| < δ and δ·(|d| − δ/2) elsewhere;
    /// its derivative in o is d inside and δ·sign(d) outside, the two meeting at |d| = δ.
    let huber (delta: float) (weights: float[] option) (targets: Tensor) (outputs: Tensor) : Tensor =
        if not (delta > 0.0 && Double.IsFinite delta) then
            Shape.fail "huber" (sprintf "delta must be a finite positive number, got %g" delta)
        let loss (t: Tensor) (o: Tensor) =
            let d = o - t
            Tensor.Where(Elementwise.absBelowMask delta d.Value, 0.5 * d.Square(), delta * (abs d - 0.5 * delta))
        elementwiseMean "huber" loss weights targets outputs
