namespace RnnAd.FSharp

open RnnAd
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
    let rec loadWith (custom: CustomParts) (path: string) : ModelCheckpoint * TrainingState =
        let model, buffers = Checkpoint.loadParts custom path
        let bad (message: string) : 'a = raise (InvalidDataException(sprintf "training checkpoint '%s': %s" path message))
        let progress =
            match model.Metadata.TryFind Checkpoint.trainingKey with
            | None -> bad (sprintf "metadata key '%s' is missing: this is a model checkpoint without training state" Checkpoint.trainingKey)
            | Some text -> text
        let field (name: string) : int64 =
            try
                use doc = JsonDocument.Parse progress
                match doc.RootElement.TryGetProperty name with
                | true, v when v.ValueKind = JsonValueKind.Number && v.GetInt64() >= 0L -> v.GetInt64()
                | true, v -> bad (sprintf "'%s' in '%s' must be a non-negative integer, found %s" name Checkpoint.trainingKey (v.GetRawText()))
                | _ -> bad (sprintf "'%s' is missing from '%s'" name Checkpoint.trainingKey)
            with :? JsonException as e -> bad (sprintf "'%s' is not well-formed JSON: %s" Checkpoint.trainingKey e.Message)
        let state =
            { Parameters = model.Parameters
              Optimizer = { Step = field "optimizer_step"; Buffers = NamedTensors(buffers |> Array.map (fun (n, t) -> n, Tensor.Constant t)) }
              Epoch = int (field "epoch")
              Batch = int (field "batch")
              StepsDone = field "steps_done" }
        model, state

    /// Loads a training checkpoint: the model and the state to resume from.
    and load (path: string) : ModelCheckpoint * TrainingState = loadWith CustomParts.None path
