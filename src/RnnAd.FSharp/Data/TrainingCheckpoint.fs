namespace RnnAd.FSharp

open RnnAd
open System
open System.IO
open System.Globalization
open System.Text.Json
open System.Text.Json.Nodes
open RnnAd.FSharp.Storage

/// Training checkpoints: one safetensors file that is a model checkpoint (so `Checkpoint.load` and PyTorch
/// read the model from it) plus the optimizer's buffers as `optimizer.<buffer>.<parameter>` tensors and the
/// progress in the metadata key "rnnad.training" (`{"epoch", "batch", "steps_done", "optimizer_step", "monitor"}`,
/// the monitor holding the best epoch so far, early stopping's count and ReduceOnPlateau's state; its real
/// numbers are strings in round-trip form, so they come back to the bit, infinities included). Randomness
/// derives from (seed, step), so this is all a resumed run needs to continue bit for bit; the best epoch's
/// parameters, which restoring them needs, are in the best checkpoint (`bestPath`).
[<RequireQualifiedAccess>]
module TrainingCheckpoint =

    /// Saves a training state atomically (the previous checkpoint at `path` survives any failure).
    let rec save (path: string) (spec: ModelSpec) (vocabulary: string[] option) (state: TrainingState) : unit =
        saveWith path spec vocabulary [] state

    /// `save` with the caller's own metadata entries (for instance the options a run must be resumed with,
    /// to refuse a resume that would silently change them); `load` returns them in the model's Metadata.
    and saveWith (path: string) (spec: ModelSpec) (vocabulary: string[] option) (metadata: (string * string) list) (state: TrainingState) : unit =
        let real (v: float) = JsonValue.Create(v.ToString("R", CultureInfo.InvariantCulture)) :> JsonNode
        let monitor = JsonObject()
        state.Monitor.Best |> Option.iter (fun b ->
            monitor.["best"] <- JsonObject(dict [ "epoch", JsonValue.Create b.Epoch :> JsonNode; "step", JsonValue.Create b.Step; "value", real b.Value ]))
        monitor.["epochs_since_best"] <- JsonValue.Create state.Monitor.EpochsSinceBest
        state.Monitor.Plateau |> Option.iter (fun p ->
            monitor.["plateau"] <-
                JsonObject(dict [ "rate", real p.Rate; "best", real p.Best; "bad_epochs", JsonValue.Create p.BadEpochs :> JsonNode
                                  "cooldown_left", JsonValue.Create p.CooldownLeft ]))
        let progress =
            JsonObject(
                dict [ "epoch", JsonValue.Create(int64 state.Epoch) :> JsonNode; "batch", JsonValue.Create(int64 state.Batch)
                       "steps_done", JsonValue.Create state.StepsDone; "optimizer_step", JsonValue.Create state.Optimizer.Step
                       "monitor", monitor ]).ToJsonString()
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
        let objectOf (what: string) (e: JsonElement) : Map<string, JsonElement> =
            if e.ValueKind <> JsonValueKind.Object then
                bad (sprintf "%s must be a JSON object, found %s" what (e.GetRawText()))
            e.EnumerateObject() |> Seq.map (fun p -> p.Name, p.Value.Clone()) |> Map.ofSeq
        let fields =
            try
                use doc = JsonDocument.Parse progress
                objectOf (sprintf "'%s'" Checkpoint.trainingKey) doc.RootElement
            with :? JsonException as e -> bad (sprintf "'%s' is not well-formed JSON: %s" Checkpoint.trainingKey e.Message)
        let integer (where: string) (fields: Map<string, JsonElement>) (name: string) (limit: int64) : int64 =
            match fields.TryFind name with
            | None -> bad (sprintf "'%s' is missing from '%s'" name where)
            | Some v ->
                match (if v.ValueKind = JsonValueKind.Number then v.TryGetInt64() else (false, 0L)) with
                | true, n when n >= 0L && n <= limit -> n
                | _ -> bad (sprintf "'%s' in '%s' must be an integer from 0 to %d, found %s" name where limit (v.GetRawText()))
        let field (name: string) (limit: int64) : int64 = integer Checkpoint.trainingKey fields name limit
        let int32Field name = int (field name (int64 Int32.MaxValue))
        let monitor =
            match fields.TryFind "monitor" with
            // Checkpoints written before the monitor was saved resume with nothing seen yet.
            | None -> MonitorState.Empty
            | Some e ->
                let where = Checkpoint.trainingKey + ".monitor"
                let m = objectOf (sprintf "'%s'" where) e
                let real (where: string) (fields: Map<string, JsonElement>) (name: string) =
                    match fields.TryFind name with
                    | Some v when v.ValueKind = JsonValueKind.String ->
                        match Double.TryParse(v.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture) with
                        | true, x -> x
                        | _ -> bad (sprintf "'%s' in '%s' must be a number written as a string, found %s" name where (v.GetRawText()))
                    | Some v -> bad (sprintf "'%s' in '%s' must be a number written as a string, found %s" name where (v.GetRawText()))
                    | None -> bad (sprintf "'%s' is missing from '%s'" name where)
                let count (where: string) fields name = int (integer where fields name (int64 Int32.MaxValue))
                { Best =
                    m.TryFind "best" |> Option.map (fun e ->
                        let where = where + ".best"
                        let b = objectOf (sprintf "'%s'" where) e
                        { Epoch = count where b "epoch"; Step = integer where b "step" Int64.MaxValue; Value = real where b "value" })
                  BestParameters = None
                  EpochsSinceBest = count where m "epochs_since_best"
                  Plateau =
                    m.TryFind "plateau" |> Option.map (fun e ->
                        let where = where + ".plateau"
                        let p = objectOf (sprintf "'%s'" where) e
                        { Rate = real where p "rate"; Best = real where p "best"; BadEpochs = count where p "bad_epochs"
                          CooldownLeft = count where p "cooldown_left" }) }
        let state =
            { Parameters = model.Parameters
              Optimizer = { Step = field "optimizer_step" Int64.MaxValue; Buffers = NamedTensors(buffers |> Array.map (fun (n, t) -> n, Tensor.Constant t)) }
              Epoch = int32Field "epoch"
              Batch = int32Field "batch"
              StepsDone = field "steps_done" Int64.MaxValue
              Monitor = monitor }
        model, state

    /// Loads a training checkpoint: the model and the state to resume from.
    and load (path: string) : ModelCheckpoint * TrainingState = loadWith LoadOptions.Default path

    /// Where the best checkpoint of the run whose last checkpoint is at `path` is kept: beside it, as
    /// `<name>.best<extension>` (`model.safetensors` → `model.best.safetensors`).
    let bestPath (path: string) : string =
        if String.IsNullOrEmpty path then invalidArg "path" "the checkpoint path is null or empty"
        Path.Combine(Path.GetDirectoryName path, Path.GetFileNameWithoutExtension path + ".best" + Path.GetExtension path)
