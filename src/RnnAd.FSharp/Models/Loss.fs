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
    /// A loss of the user's.
    | Custom of CustomLoss

    /// The name checkpoints store (`cross_entropy`, or the custom loss's own).
    member l.Name =
        match l with
        | CrossEntropy _ -> "cross_entropy"
        | Custom c -> c.Name

    /// What the loss compares outputs with.
    member l.Targets =
        match l with
        | CrossEntropy _ -> TargetKind.Classes
        | Custom c -> c.Targets

/// Computing losses.
[<RequireQualifiedAccess>]
module Loss =

    /// The mean cross-entropy without class weights, the default loss.
    let crossEntropy: Loss = Loss.CrossEntropy None

    /// Checks a loss's own parameters, naming the one at fault.
    let validate (loss: Loss) : unit =
        match loss with
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
        | Loss.CrossEntropy None, Targets.Classes classes -> Nn.crossEntropyWeighted Reduction.Mean weights classes outputs
        | Loss.CrossEntropy (Some _), _ -> invalidArg "loss" "class-weighted cross-entropy arrives with the loss functions"
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
