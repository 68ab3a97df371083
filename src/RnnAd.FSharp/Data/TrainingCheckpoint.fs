namespace RnnAd.FSharp

open RnnAd
open System
open System.IO
open System.Text.Json
open RnnAd.FSharp.Storage

/// Training checkpoints: one safetensors file that is a model checkpoint (so `Checkpoint.load` and PyTorch
/// read the model from it) plus the optimizer's buffers as `optimizer.<buffer>.<parameter>` tensors and the
/// progress in the metadata key "rnnad.training" (`{"epoch", "batch", "steps_done", "optimizer_step"}`).
/// Randomness derives from (seed, step), so this is all a resumed run needs to continue bit for bit.
[<RequireQualifiedAccess>]
module TrainingCheckpoint =

    /// Saves a training state atomically (the previous checkpoint at `path` survives any failure).
    let rec save (path: string) (spec: ModelSpec) (vocabulary: string[] option) (state: TrainingState) : unit =
        saveWith path spec vocabulary [] state

    /// `save` with the caller's own metadata entries (for instance the options a run must be resumed with,
    /// to refuse a resume that would silently change them); `load` returns them in the model's Metadata.
    and saveWith (path: string) (spec: ModelSpec) (vocabulary: string[] option) (metadata: (string * string) list) (state: TrainingState) : unit =
        let progress =
            JsonSerializer.Serialize(
                dict [ "epoch", int64 state.Epoch; "batch", int64 state.Batch; "steps_done", state.StepsDone; "optimizer_step", state.Optimizer.Step ])
        let buffers = state.Optimizer.Buffers.Entries |> Array.map (fun (name, t) -> Checkpoint.optimizerPrefix + name, t.Value)
        Checkpoint.saveWith path spec vocabulary state.Parameters ((Checkpoint.trainingKey, progress) :: metadata) buffers

    /// Loads a training checkpoint whose model may use the given custom cells and losses.
    let rec loadWith (custom: LoadOptions) (path: string) : ModelCheckpoint * TrainingState =
        let model, buffers = Checkpoint.loadParts custom path (Safetensors.read path)
        let bad (message: string) : 'a = raise (InvalidDataException(sprintf "training checkpoint '%s': %s" path message))
        let progress =
            match model.Metadata.TryFind Checkpoint.trainingKey with
            | None -> bad (sprintf "metadata key '%s' is missing: this is a model checkpoint without training state" Checkpoint.trainingKey)
            | Some text -> text
        // Every field is read strictly: a hostile or damaged progress record is an error naming the field, never
        // a wrapped-around epoch that silently restarts training.
        let fields =
            try
                use doc = JsonDocument.Parse progress
                if doc.RootElement.ValueKind <> JsonValueKind.Object then
                    bad (sprintf "'%s' must be a JSON object of progress counts, found %s" Checkpoint.trainingKey (doc.RootElement.GetRawText()))
                doc.RootElement.EnumerateObject() |> Seq.map (fun p -> p.Name, p.Value.Clone()) |> Map.ofSeq
            with :? JsonException as e -> bad (sprintf "'%s' is not well-formed JSON: %s" Checkpoint.trainingKey e.Message)
        let field (name: string) (limit: int64) : int64 =
            match fields.TryFind name with
            | None -> bad (sprintf "'%s' is missing from '%s'" name Checkpoint.trainingKey)
            | Some v ->
                match (if v.ValueKind = JsonValueKind.Number then v.TryGetInt64() else (false, 0L)) with
                | true, n when n >= 0L && n <= limit -> n
                | _ -> bad (sprintf "'%s' in '%s' must be an integer from 0 to %d, found %s" name Checkpoint.trainingKey limit (v.GetRawText()))
        let int32Field name = int (field name (int64 Int32.MaxValue))
        let state =
            { Parameters = model.Parameters
              Optimizer = { Step = field "optimizer_step" Int64.MaxValue; Buffers = NamedTensors(buffers |> Array.map (fun (n, t) -> n, Tensor.Constant t)) }
              Epoch = int32Field "epoch"
              Batch = int32Field "batch"
              StepsDone = field "steps_done" Int64.MaxValue }
        model, state

    /// Loads a training checkpoint: the model and the state to resume from.
    and load (path: string) : ModelCheckpoint * TrainingState = loadWith LoadOptions.Default path
