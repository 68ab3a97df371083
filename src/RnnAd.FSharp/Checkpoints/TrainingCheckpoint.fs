namespace RnnAd.FSharp

open RnnAd
open System
open System.IO
open System.Globalization
open System.Text.Json
open System.Text.Json.Nodes
open RnnAd.FSharp.Storage

/// Training checkpoints: a model checkpoint (so `Checkpoint.load` reads the model from it, and PyTorch's
/// `load_state_dict(strict=True)` takes its tensors, which are exactly the model's) whose metadata key
/// "rnnad.training" holds the progress (`{"epoch", "batch", "steps_done", "optimizer_step", "monitor",
/// "state_file"}`; the monitor holds the best epoch so far, early stopping's count and ReduceOnPlateau's state,
/// its real numbers as strings in round-trip form, infinities included), and beside it a second safetensors
/// file, named in "state_file", holding the optimizer's buffers. Randomness derives from (seed, step), so this
/// is all a resumed run needs to continue bit for bit; the best epoch's parameters, which restoring them
/// needs, are in the best checkpoint (`bestPath`).
///
/// Why two files, and how they stay a pair: the optimizer state (two tensors per parameter for Adam) is not
/// part of the model, and a state dict that holds it is refused by a strict load. Each save writes a state
/// file under a fresh name first, then the model file naming it, then deletes the state files no longer named;
/// a process killed between any two of these leaves a model file whose state file exists.
[<RequireQualifiedAccess>]
module TrainingCheckpoint =

    /// The metadata key of a state file that names the model file it was written for (for people: the pair is
    /// held together by the state file's fresh name, which the model file's progress records).
    let private stateOfKey = "rnnad.training_state_of"

    /// The state files written for the checkpoint at `fullPath`: `model.safetensors` → `model.training.<16 hex
    /// digits>.safetensors` whose metadata names `model.safetensors`, so a user's own file that happens to have
    /// such a name is never taken for one (and never deleted).
    let private stateFilesOf (fullPath: string) : string[] =
        let prefix = Path.GetFileNameWithoutExtension fullPath + ".training."
        let folder = Path.GetDirectoryName fullPath
        if not (Directory.Exists folder) then [||]
        else
            Directory.GetFiles(folder, prefix + "*.safetensors")
            |> Array.filter (fun file ->
                let fresh = Path.GetFileName(file).Substring(prefix.Length)
                fresh.Length = 16 + ".safetensors".Length && fresh.Substring(0, 16) |> Seq.forall Uri.IsHexDigit
                && (try (Safetensors.read file).Metadata.TryFind stateOfKey = Some(Path.GetFileName fullPath) with _ -> false))

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
        let full = Path.GetFullPath path
        let stateName = Path.GetFileNameWithoutExtension full + ".training." + Guid.NewGuid().ToString("N").Substring(0, 16) + ".safetensors"
        let stateFile = Path.Combine(Path.GetDirectoryName full, stateName)
        let progress =
            JsonObject(
                dict [ "epoch", JsonValue.Create(int64 state.Epoch) :> JsonNode; "batch", JsonValue.Create(int64 state.Batch)
                       "steps_done", JsonValue.Create state.StepsDone; "optimizer_step", JsonValue.Create state.Optimizer.Step
                       "monitor", monitor; "state_file", JsonValue.Create stateName ]).ToJsonString()
        let buffers = state.Optimizer.Buffers.Entries |> Array.map (fun (name, t) -> name, t.Value)
        try Safetensors.write stateFile [ stateOfKey, Path.GetFileName full ] buffers
        with :? IOException | :? UnauthorizedAccessException as e ->
            // Name the checkpoint the caller asked for; the state file's fresh name means nothing to them.
            raise (IOException(sprintf "could not save the training checkpoint '%s': writing its optimizer state beside it failed (%s)" path e.Message, e))
        try Checkpoint.saveWith path spec vocabulary state.Parameters ((Checkpoint.trainingKey, progress) :: metadata) [||]
        with _ ->
            // The model file still names the previous state file: the new one is nobody's.
            try File.Delete stateFile with _ -> ()
            reraise ()
        // Only now is every other state file of this checkpoint unreferenced.
        for stale in stateFilesOf full do
            if stale <> stateFile then try File.Delete stale with _ -> ()

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
        // The optimizer's buffers: in the state file the progress names, or, in checkpoints written before
        // there were state files, as `optimizer.*` tensors of the model file itself.
        let buffers =
            match fields.TryFind "state_file" with
            | None -> buffers
            | Some v ->
                let name = if v.ValueKind = JsonValueKind.String then v.GetString() else bad (sprintf "'state_file' in '%s' must be a file name, found %s" Checkpoint.trainingKey (v.GetRawText()))
                if String.IsNullOrEmpty name || Path.GetFileName name <> name then
                    bad (sprintf "'state_file' in '%s' must name a file beside the checkpoint, found '%s'" Checkpoint.trainingKey name)
                let statePath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath path), name)
                if not (File.Exists statePath) then
                    bad (sprintf "its optimizer state '%s' is missing; it is written beside the checkpoint and must travel with it" name)
                if buffers.Length > 0 then bad "it holds optimizer buffers both inside and beside it"
                (Safetensors.read statePath).Tensors
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

    /// Deletes a training checkpoint and the optimizer state beside it (a missing file is no error).
    let delete (path: string) : unit =
        let full = Path.GetFullPath path
        File.Delete full
        for file in stateFilesOf full do
            File.Delete file

    /// Where the best checkpoint of the run whose last checkpoint is at `path` is kept: beside it, as
    /// `<name>.best<extension>` (`model.safetensors` → `model.best.safetensors`).
    let bestPath (path: string) : string =
        if String.IsNullOrEmpty path then invalidArg "path" "the checkpoint path is null or empty"
        Path.Combine(Path.GetDirectoryName path, Path.GetFileNameWithoutExtension path + ".best" + Path.GetExtension path)
