namespace RnnAd.FSharp

open System
open RnnAd
open RnnAd.FSharp.Storage

/// What a loss compares outputs with.
[<RequireQualifiedAccess>]
type TargetKind =
    /// Class indices: outputs are class scores (logits).
    | Classes
    /// Real values of the outputs' shape.
    | Values

/// A loss written by its user: `Compute outputs targets weights` returns the mean loss over the counted
/// positions (`weights`, one per position, 1 real and 0 padding; None when every position counts).
[<ReferenceEquality>]
type CustomLoss =
    { /// The loss's name, stored in checkpoints.
      Name: string
      /// Whether it takes class indices or real values.
      Targets: TargetKind
      Compute: Tensor -> Targets -> float[] option -> Tensor }

/// How a model's outputs are scored against a batch's targets; every built-in loss is the mean over the
/// counted positions (padding excluded).
[<RequireQualifiedAccess>]
type Loss =
    /// −log softmax(z)_y, weighted by class if weights are given (PyTorch's `CrossEntropyLoss(weight=…)`).
    | CrossEntropy of classWeights: float[] option
    /// Binary cross-entropy of logits, one independent label per output (multi-label; `BCEWithLogitsLoss`).
    | BinaryCrossEntropy
    /// (o − t)² (`MSELoss`).
    | MeanSquaredError
    /// |o − t| (`L1Loss`).
    | MeanAbsoluteError
    /// (o − t)²/2 below δ, δ·(|o − t| − δ/2) above (`HuberLoss`).
    | Huber of delta: float
    /// A loss of the user's.
    | Custom of CustomLoss

    /// The name checkpoints store (`cross_entropy`, `binary_cross_entropy`, `mse`, `l1`, `huber`, or the
    /// custom loss's own).
    member l.Name =
        match l with
        | CrossEntropy _ -> "cross_entropy"
        | BinaryCrossEntropy -> "binary_cross_entropy"
        | MeanSquaredError -> "mse"
        | MeanAbsoluteError -> "l1"
        | Huber _ -> "huber"
        | Custom c -> c.Name

    /// What the loss compares outputs with.
    member l.Targets =
        match l with
        | CrossEntropy _ -> TargetKind.Classes
        | BinaryCrossEntropy
        | MeanSquaredError
        | MeanAbsoluteError
        | Huber _ -> TargetKind.Values
        | Custom c -> c.Targets

/// Computing losses.
[<RequireQualifiedAccess>]
module Loss =

    /// The mean cross-entropy without class weights, the default loss.
    let crossEntropy: Loss = Loss.CrossEntropy None

    /// The built-in loss of a checkpoint's name, with default settings (class weights and δ are stored apart).
    let tryBuiltIn (name: string) : Loss option =
        match name with
        | "cross_entropy" -> Some crossEntropy
        | "binary_cross_entropy" -> Some Loss.BinaryCrossEntropy
        | "mse" -> Some Loss.MeanSquaredError
        | "l1" -> Some Loss.MeanAbsoluteError
        | "huber" -> Some(Loss.Huber 1.0)
        | _ -> None

    /// Checks a loss's own parameters, naming the one at fault.
    let validate (loss: Loss) : unit =
        match loss with
        | Loss.Huber delta when not (delta > 0.0) || Double.IsInfinity delta ->
            invalidArg "delta" (sprintf "the Huber threshold δ must be a finite number above 0, got %g" delta)
        | Loss.CrossEntropy (Some w) when isNull w || w.Length = 0 || w |> Array.exists (fun v -> not (v >= 0.0) || Double.IsInfinity v) ->
            invalidArg "classWeights" "class weights must be a non-empty array of finite, non-negative numbers"
        | Loss.Custom c when isNull (box c) || String.IsNullOrWhiteSpace c.Name || isNull (box c.Compute) ->
            invalidArg "loss" "a custom loss needs a name and a Compute function"
        | _ -> ()

    /// The mean loss of outputs against targets over the positions that count (`weights`: one per position,
    /// 0 for padding). Raises naming the shapes or values at fault when the targets do not fit the loss or
    /// the outputs.
    let compute (loss: Loss) (weights: float[] option) (targets: Targets) (outputs: Tensor) : Tensor =
        let wrongKind () =
            invalidArg "targets" (sprintf "the %s loss compares outputs with %s, the batch holds %s" loss.Name
                                      (match loss.Targets with TargetKind.Classes -> "class indices" | TargetKind.Values -> "real values")
                                      (match targets with Targets.None -> "no targets" | Targets.Classes _ -> "class indices" | Targets.Values _ -> "real values"))
        match loss, targets with
        | _, Targets.None -> invalidArg "targets" (sprintf "the batch has no targets, the %s loss needs them" loss.Name)
        | Loss.CrossEntropy classWeights, Targets.Classes classes -> Losses.crossEntropy classWeights weights classes outputs
        | Loss.BinaryCrossEntropy, Targets.Values values -> Losses.binaryCrossEntropyWithLogits weights values outputs
        | Loss.MeanSquaredError, Targets.Values values -> Losses.meanSquaredError weights values outputs
        | Loss.MeanAbsoluteError, Targets.Values values -> Losses.meanAbsoluteError weights values outputs
        | Loss.Huber delta, Targets.Values values -> Losses.huber delta weights values outputs
        | Loss.Custom c, _ ->
            match c.Targets, targets with
            | TargetKind.Classes, Targets.Classes _
            | TargetKind.Values, Targets.Values _ ->
                let l = c.Compute outputs targets weights
                if isNull (box l) || l.Numel <> 1 then
                    invalidOp (sprintf "the custom loss '%s' returned %s, not one value" c.Name (if isNull (box l) then "null" else "shape " + Shape.format l.Shape))
                l
            | _ -> wrongKind ()
        | _ -> wrongKind ()
