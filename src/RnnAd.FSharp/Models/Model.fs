namespace RnnAd.FSharp

open System
open RnnAd
open RnnAd.FSharp.Storage

/// A trainable model as a value: named parameters and pure functions of them. Every service takes this
/// value (the trainer, evaluation, generation, gradient checks), so a model written by a user is served as
/// the built-in `SequenceModel` is, which is one instance of it.
[<NoEquality; NoComparison>]
type Model =
    { /// Every parameter's name and shape, in order.
      Parameters: (string * int[])[]
      /// Fresh parameters drawn from a seed.
      Init: int -> NamedTensors
      /// The outputs for a batch (per step (batch, time, outputs) or per sequence (batch, outputs)) and the
      /// final state of every layer and direction, which a truncated run carries into its next chunk.
      Forward: NamedTensors -> RunOptions -> Minibatch -> Tensor * CellState[]
      /// How the outputs are scored against targets.
      Loss: Loss
      /// Whether the outputs are per step (padding masked out of the loss) or per sequence.
      Head: HeadKind
      /// Whether the forward pass draws training randomness (dropout) from `RunOptions.DropoutSeed`.
      Stochastic: bool
      /// Whether the model can run a sequence in pieces, carrying its states (generation, streaming): true
      /// for unidirectional recurrences, false when a backward direction reads the future.
      Streamable: bool }

/// The operations every service performs on a model value.
[<RequireQualifiedAccess>]
module Model =

    /// Raises unless `ps` holds every parameter of the model with its shape (extra names are allowed).
    let check (model: Model) (ps: NamedTensors) : unit =
        if isNull (box ps) then nullArg "ps"
        for name, shape in model.Parameters do
            match ps.TryFind name with
            | None -> invalidArg "ps" (sprintf "parameter '%s' is missing (present: %s)" name (String.Join(", ", ps.Names)))
            | Some t when not (Shape.equal t.Shape shape) ->
                invalidArg "ps" (sprintf "parameter '%s' has shape %s, expected %s" name (Shape.format t.Shape) (Shape.format shape))
            | Some _ -> ()

    /// The weight of every position in the loss: the mask for per-step outputs, every sequence for
    /// per-sequence ones.
    let positionWeights (head: HeadKind) (batch: Minibatch) : float[] option =
        match head with
        | HeadKind.PerStep -> batch.Mask
        | HeadKind.LastStep -> None

    /// The batch's mean loss (padded steps excluded) and the final states.
    let loss (model: Model) (ps: NamedTensors) (options: RunOptions) (batch: Minibatch) : Tensor * CellState[] =
        let outputs, finals = model.Forward ps options batch
        Loss.compute model.Loss (positionWeights model.Head batch) batch.Targets outputs, finals

    /// Steps [start, start + length) of a batch: inputs, mask and per-step targets (truncated BPTT cuts
    /// per-step batches into such chunks).
    let sliceTime (start: int) (length: int) (b: Minibatch) : Minibatch =
        if start < 0 || length < 1 || start > b.Time - length then
            invalidArg "length" (sprintf "steps [%d, %d) are outside a batch of %d steps" start (start + length) b.Time)
        let cut (values: 'a[]) = Array.init (b.Batch * length) (fun i -> values.[(i / length) * b.Time + start + i % length])
        { Input =
            match b.Input with
            | SequenceInput.Tokens ids -> SequenceInput.Tokens(cut ids)
            | SequenceInput.Features x -> SequenceInput.Features(x.Slice(1, start, length))
          Batch = b.Batch
          Time = length
          Mask = b.Mask |> Option.map cut
          Targets =
            match b.Targets with
            | Targets.None -> Targets.None
            | Targets.Classes c -> Targets.Classes(cut c)
            | Targets.Values v -> Targets.Values(v.Slice(1, start, length)) }
