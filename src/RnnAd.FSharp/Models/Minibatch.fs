namespace RnnAd.FSharp

open RnnAd

/// The inputs of a batch of sequences.
[<RequireQualifiedAccess>]
type SequenceInput =
    /// Token ids, (batch · time) in row-major order.
    | Tokens of ids: int[]
    /// Features of shape (batch, time, size).
    | Features of values: Tensor

/// What a batch's outputs are scored against. Positions are the steps of every sequence in row-major
/// (batch, time) order for a model that predicts at every step, or the sequences for one that predicts
/// once per sequence.
[<RequireQualifiedAccess>]
type Targets =
    /// No targets: the batch is only run (prediction, generation).
    | None
    /// One class index per position.
    | Classes of classes: int[]
    /// Real values, the model's outputs' shape: (batch, time, width) per step or (batch, width) per sequence.
    | Values of values: Tensor

/// Reading targets.
[<RequireQualifiedAccess>]
module Targets =

    /// The class indices of class targets; raises naming what the targets hold otherwise.
    let classesOf (targets: Targets) : int[] =
        match targets with
        | Targets.Classes c -> c
        | Targets.Values _ -> invalidArg "targets" "the targets are real values, not class indices"
        | Targets.None -> invalidArg "targets" "there are no targets"

    /// The values of real-valued targets; raises naming what the targets hold otherwise.
    let valuesOf (targets: Targets) : Tensor =
        match targets with
        | Targets.Values v -> v
        | Targets.Classes _ -> invalidArg "targets" "the targets are class indices, not real values"
        | Targets.None -> invalidArg "targets" "there are no targets"

/// A batch of sequences and its targets. `Mask` (batch · time, 1 = real step, 0 = padding) is optional.
type Minibatch =
    { Input: SequenceInput
      Batch: int
      Time: int
      Mask: float[] option
      Targets: Targets }

/// Where a model's predictions sit.
[<RequireQualifiedAccess>]
type HeadKind =
    /// A prediction at every step (many-to-many: language models, "hell" → "ello", tagging).
    | PerStep
    /// One prediction per sequence from the final states (many-to-one: classification, forecasting the
    /// next k values).
    | LastStep
