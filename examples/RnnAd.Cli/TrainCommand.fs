namespace RnnAd.Cli

open System
open System.Diagnostics
open System.Globalization
open System.IO
open System.Threading
open Argu
open RnnAd.FSharp
open RnnAd.FSharp.Data
open RnnAd.FSharp.Files
open RnnAd.FSharp.Storage
open RnnAd.Examples

/// `rnnad train`: a character language model (embedding → recurrent stack → linear head predicting the next
/// character at every step) trained on a text, saved as a training checkpoint with its loss curve beside it.
[<RequireQualifiedAccess>]
module TrainCommand =

    /// Where a run starts: a fresh model, or the training checkpoint being resumed.
    type private Start =
        { Spec: ModelSpec
          Vocabulary: Vocab
          State: TrainingState
          Resumed: bool
          /// The checkpoint's metadata when resuming (empty for a fresh model).
          Metadata: Map<string, string> }

    /// The metadata key holding the options a run was started with (`name=value; …`), so a resume can refuse to
    /// change them and `rnnad evaluate` can read the window the model was trained on.
    let optionsKey = "rnnad.cli.train"

    /// The fingerprint's entry for the SHA-256 of the text (its UTF-8 bytes), so a resume can refuse a text
    /// that changed under the same name.
    let private digestKey = "text-sha256"

    /// Refuses, before any work, an output `option` names that cannot be written or would destroy an input.
    let private checkOutput (option: string) (path: string) (inputs: string list) : unit =
        try OutputFile.checkCreatingDirectory path inputs |> ignore
        with
        | :? IOException
        | :? UnauthorizedAccessException as e -> raise (CommandFailedException(sprintf "%s: %s" option e.Message))

    /// Where a checkpoint goes when its output cannot be written at the end of training: a new file in the
    /// system's temporary folder, or failing that the current one, so that a trained model is never lost.
    let private rescuePaths (output: string) : string list =
        let name =
            sprintf "rnnad-rescued-%s-%s-%s.safetensors" (Path.GetFileNameWithoutExtension output)
                (DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)) (Guid.NewGuid().ToString("N").Substring(0, 8))
        [ Path.Combine(Path.GetTempPath(), name); Path.GetFullPath name ]

    /// The loss curve's path: next to the checkpoint, `<name>.loss.png` (relative when the checkpoint's is).
    let lossCurvePath (checkpoint: string) : string =
        Path.Combine(Path.GetDirectoryName checkpoint, Path.GetFileNameWithoutExtension checkpoint + ".loss.png")

    let private count (n: int64) = n.ToString("N0", CultureInfo.InvariantCulture)

    let private parameterCount (spec: ModelSpec) =
        SequenceModel.expectedShapes spec |> Array.sumBy (fun (_, shape) -> shape |> Array.fold (fun p d -> p * int64 d) 1L)

    /// The model as a person would describe it: "LSTM, 2 layers of 128, embedding 16, 53 outputs".
    let describeModel (spec: ModelSpec) : string =
        let input =
            match spec.Input with
            | InputEncoding.Embedding (_, d) -> sprintf "embedding %d" d
            | InputEncoding.OneHot v -> sprintf "one-hot %d" v
            | InputEncoding.Features f -> sprintf "%d features" f
        let layers = if spec.Layers = 1 then "1 layer" else sprintf "%d layers" spec.Layers
        let dropout = if spec.Dropout > 0.0 then sprintf ", dropout %g" spec.Dropout else ""
        sprintf "%s, %s of %d, %s, %d outputs%s" spec.Cell.Name layers spec.HiddenSize input spec.Outputs dropout

    /// The prompt of the sample shown after training: the text's first word (at most 16 characters).
    let private firstWord (characters: string[]) : string[] =
        let word = characters |> Array.skipWhile String.IsNullOrWhiteSpace |> Array.takeWhile (String.IsNullOrWhiteSpace >> not) |> Array.truncate 16
        if word.Length = 0 then Array.truncate 1 characters else word

    /// A new model, or the checkpoint at `output` when resuming; model options are refused with --resume, since
    /// the checkpoint fixes the model.
    let private start
        (args: ParseResults<TrainArgs>) (output: string) (characters: string[]) (options: TrainingOptions) (epochs: int)
        (checkModel: ModelSpec -> ModelOptions -> unit)
        : Start =
        if args.Contains TrainArgs.Resume then
            let given =
                [ args.Contains TrainArgs.Cell, "--cell"; args.Contains TrainArgs.Hidden, "--hidden"; args.Contains TrainArgs.Layers, "--layers"
                  args.Contains TrainArgs.Embedding, "--embedding"; args.Contains TrainArgs.Dropout, "--dropout" ]
                |> List.filter fst |> List.map snd
            if not given.IsEmpty then
                Options.fail (sprintf "--resume takes the model from the checkpoint; leave out %s" (String.Join(", ", given)))
            if not (File.Exists output) then
                raise (CommandFailedException(sprintf "nothing to resume: the checkpoint '%s' does not exist (--output names it)" output))
            let model, state = TrainingCheckpoint.load output
            let vocabulary =
                match model.Vocabulary with
                | Some tokens -> Vocab.ofTokens tokens
                | None -> raise (InvalidDataException(sprintf "checkpoint '%s' holds no vocabulary, so the text cannot be encoded for it" output))
            if model.Spec.Head <> HeadKind.PerStep || model.Spec.Bidirectional then
                raise (InvalidDataException(sprintf "checkpoint '%s' holds a %s model, not a character language model" output (describeModel model.Spec)))
            if state.Epoch >= epochs then
                raise (CommandFailedException(sprintf "the checkpoint '%s' has already trained %d epochs; ask for more with --epochs" output state.Epoch))
            { Spec = model.Spec; Vocabulary = vocabulary; State = state; Resumed = true; Metadata = model.Metadata }
        else
            let vocabulary = Vocab.build VocabOptions.Default [ characters ]
            let embedding = Options.nonNegative "--embedding" (args.GetResult(TrainArgs.Embedding, 16))
            let spec =
                { Cell = Cells.ofKind (Options.cell (args.GetResult(TrainArgs.Cell, "lstm")))
                  Input = (if embedding = 0 then InputEncoding.OneHot vocabulary.Count else InputEncoding.Embedding(vocabulary.Count, embedding))
                  HiddenSize = Options.positive "--hidden" (args.GetResult(TrainArgs.Hidden, 128))
                  Layers = Options.positive "--layers" (args.GetResult(TrainArgs.Layers, 1))
                  Bidirectional = false
                  Dropout = Options.probability "--dropout" (args.GetResult(TrainArgs.Dropout, 0.0))
                  Head = HeadKind.PerStep
                  HeadHidden = []
                  Outputs = vocabulary.Count
                  Loss = Loss.crossEntropy }
            checkModel spec
                { Hidden = sprintf "--hidden %d" spec.HiddenSize
                  Layers = sprintf "--layers %d" spec.Layers
                  Input = (if embedding = 0 then sprintf "one-hot input of the text's %d characters" vocabulary.Count else sprintf "--embedding %d" embedding)
                  Outputs = sprintf "%d outputs (the text's characters)" vocabulary.Count }
            let seed = args.GetResult(TrainArgs.Seed, 1)
            { Spec = spec; Vocabulary = vocabulary; State = Training.start options (SequenceModel.init spec (Seed.derive seed "parameters")); Resumed = false
              Metadata = Map.empty }

    /// One epoch as a table row: epoch, loss, perplexity, bits per character, the validation loss and bits when
    /// there are validation data (a `*` then marks the best epoch), seconds, batches per second.
    let private epochRow (validated: bool) (e: EpochReport) : string[] =
        [| yield string (e.Epoch + 1) + (if validated && e.IsBest then "*" else "")
           yield Options.number 4 e.TrainLoss
           yield Options.number 2 (exp e.TrainLoss)
           yield Options.number 3 (e.TrainLoss / log 2.0)
           if validated then
               match e.Validation with
               | Some v ->
                   yield Options.number 4 v.Loss
                   yield Options.number 3 v.BitsPerCharacter
               | None -> yield! [| ""; "" |]
           yield Options.number 2 e.Seconds
           yield Options.number 1 (float e.Steps / max 1e-9 e.Seconds) |]

    /// Saving the training states of one file (`--output`, or the best checkpoint beside it) so that a trained model
    /// is never lost: when the file cannot be written (checked before training, it can still vanish or fill up), the
    /// state goes to a rescue copy in the system's temporary folder, or failing that the current one.
    type private Keeper(target: string, write: string -> TrainingState -> unit) =
        let mutable rescued: (string * string) option = None

        /// Saves a state, to the target or its rescue copy.
        member _.Save(state: TrainingState) =
            let failed (e: exn) = e :? IOException || e :? UnauthorizedAccessException
            try
                write target state
                // The target works (again): a rescued copy is older than it.
                rescued |> Option.iter (fun (path, _) -> try TrainingCheckpoint.delete path with _ -> ())
                rescued <- None
            with e when failed e ->
                let candidates = match rescued with Some (path, _) -> [ path ] | None -> rescuePaths target
                let rec firstThatWorks (paths: string list) (errors: string list) =
                    match paths with
                    | [] ->
                        raise (CommandFailedException(
                            sprintf "could not write '%s' (%s), nor a rescue copy (%s); the trained model is lost" target e.Message (String.Join("; ", List.rev errors))))
                    | path :: rest ->
                        try
                            write path state
                            path
                        with e2 when failed e2 -> firstThatWorks rest (e2.Message :: errors)
                rescued <- Some(firstThatWorks candidates [], e.Message)

        /// Where the last save landed.
        member _.Location = match rescued with Some (path, _) -> path | None -> target

        /// The rescue copy and why the target failed, when the last save could not reach the target.
        member _.Rescued = rescued

    /// Trains as the options say; returns the exit code.
    let run (t: Terminal) (cancel: CancellationToken) (args: ParseResults<TrainArgs>) : int =
        let clock = Stopwatch.StartNew()
        let output = args.GetResult(TrainArgs.Output, "rnnad-model.safetensors")
        if String.IsNullOrWhiteSpace output then Options.fail "--output must name a file"
        let textPath = args.TryGetResult TrainArgs.Text
        let curve = lossCurvePath output
        let validationSplit =
            args.TryGetResult TrainArgs.Validation_Split |> Option.map (fun f ->
                if not (f > 0.0 && f < 1.0) then
                    Options.fail (sprintf "--validation-split must be a fraction between 0 and 1, got %s" (f.ToString CultureInfo.InvariantCulture))
                f)
        let patience = args.TryGetResult TrainArgs.Early_Stopping |> Option.map (Options.positive "--early-stopping")
        if patience.IsSome && validationSplit.IsNone then
            Options.fail "--early-stopping watches the validation loss; give --validation-split too"
        let maxSteps = args.TryGetResult TrainArgs.Max_Steps |> Option.map (Options.positive "--max-steps")
        let historyPath = args.TryGetResult TrainArgs.History
        let best = validationSplit |> Option.map (fun _ -> TrainingCheckpoint.bestPath output)
        // Every output is checked before the text is even read: a run that cannot keep its result, or would write
        // over its own text, must not start.
        checkOutput "--output" output (Option.toList textPath)
        checkOutput "the loss curve (written next to --output)" curve (Option.toList textPath)
        best |> Option.iter (fun path -> checkOutput "the best checkpoint (written next to --output)" path (Option.toList textPath))
        historyPath |> Option.iter (fun path -> checkOutput "--history" path (Option.toList textPath))
        let source, text =
            match textPath with
            | Some path ->
                // Reading and tokenizing hold about 15 bytes per byte of text at their peak (the bytes, the string,
                // a reference per character, its id): a text that cannot fit is refused before it is read.
                if FileKind.ofPath path = FileKind.Regular then
                    let length = FileInfo(path).Length
                    Limits.requireMemory (sprintf "--text '%s' has %s bytes; reading it for training" path (count length)) (float length * 15.0) "give a shorter text"
                sprintf "'%s'" path, TextFile.read path
            | None -> DefaultText.description, DefaultText.read ()
        let digest = Convert.ToHexStringLower(Security.Cryptography.SHA256.HashData(Text.Encoding.UTF8.GetBytes text))
        let characters = Tokenize.characters text
        let window = Options.positive "--window" (args.GetResult(TrainArgs.Window, 32))
        let stride = Options.positive "--stride" (args.GetResult(TrainArgs.Stride, max 1 (window / 2)))
        // Compared without adding 1 to the window, which would wrap around at Int32.MaxValue.
        if window >= characters.Length then
            Options.fail (sprintf "--window %d is too long for the text: %s holds %d characters, so a window can hold at most %d (plus the character after it)"
                            window source characters.Length (characters.Length - 1))
        // The validation part is the text's end, cut before any window: windows of the two parts share no character.
        let trained =
            match validationSplit with
            | None -> characters.Length
            | Some f ->
                let held = int (Math.Round(float characters.Length * f))
                let kept = characters.Length - held
                if int64 held < int64 window + 1L || int64 kept < int64 window + 1L then
                    Options.fail (sprintf "--validation-split %s cuts the %d characters of %s into %d to train on and %d to validate on; each part must hold a --window of %d plus the character after it"
                                    (f.ToString CultureInfo.InvariantCulture) characters.Length source kept held window)
                kept
        let epochs = Options.positive "--epochs" (args.GetResult(TrainArgs.Epochs, 40))
        let batchSize = Options.positive "--batch-size" (args.GetResult(TrainArgs.Batch_Size, 32))
        let rate = Options.positiveNumber "--learning-rate" (args.GetResult(TrainArgs.Learning_Rate, 0.01))
        let clip = Options.nonNegativeNumber "--clip-norm" (args.GetResult(TrainArgs.Clip_Norm, 1.0))
        let seed = args.GetResult(TrainArgs.Seed, 1)
        let sampleLength = Limits.generated "--sample-length" (args.GetResult(TrainArgs.Sample_Length, 200))
        let options =
            { TrainingOptions.Default with
                Optimizer = Options.optimizer (args.GetResult(TrainArgs.Optimizer, "adam"))
                Schedule = Schedule.Constant rate
                Epochs = epochs
                TruncateEvery = args.TryGetResult TrainArgs.Bptt |> Option.map (Options.positive "--bptt")
                ClipNorm = (if clip = 0.0 then None else Some clip)
                Seed = Seed.derive seed "training"
                CheckpointEvery = args.TryGetResult TrainArgs.Checkpoint_Every |> Option.map (Options.positive "--checkpoint-every")
                MaxSteps = maxSteps |> Option.map int64
                // The validation loss picks the best epoch; the sample is drawn from it.
                Monitor = Metric.Loss
                EarlyStopping = patience |> Option.map (fun p -> { Patience = p; MinDelta = 0.0 })
                RestoreBest = validationSplit.IsSome }
        // The data's sizes, counted in int64 before anything is built: a size no machine holds is refused
        // naming its option, not met as an out-of-memory error (or a count wrapped around) later.
        let windowCount = int64 (trained - window - 1) / int64 stride + 1L
        let batchesPerEpoch = (windowCount - 1L) / int64 batchSize + 1L
        let updates = match maxSteps with Some n -> min (int64 n) (int64 epochs * batchesPerEpoch) | None -> int64 epochs * batchesPerEpoch
        if updates > Limits.maxUpdates then
            Options.fail (sprintf "--epochs %d makes %s updates (%s per epoch); one run makes at most %s (its loss curve keeps each one's loss)"
                            epochs (count updates) (count batchesPerEpoch) (count Limits.maxUpdates))
        // Each window is held twice (inputs and targets) as examples and again in an epoch's batches; the validation
        // windows (of the same length, one every window) once more.
        let validationWindows = float (characters.Length - trained) / float window
        let dataBytes = (float windowCount + validationWindows) * 4.0 * (4.0 * float window + 32.0) + float characters.Length * 12.0
        Limits.requireMemory
            (sprintf "--window %d with --stride %d cuts the text into %s windows, which" window stride (count windowCount)) dataBytes
            "raise --stride or lower --window"
        // One batch's trace: per step and sequence every layer's gates and states, the input and the head's scores,
        // kept forward and their adjoints backward.
        let checkModel (spec: ModelSpec) (names: ModelOptions) =
            let steps = float (match options.TruncateEvery with Some k -> min k window | None -> window)
            let inputWidth = match spec.Input with InputEncoding.Embedding (_, d) -> float d | InputEncoding.OneHot v -> float v | InputEncoding.Features f -> float f
            let perStep = float spec.Layers * float spec.HiddenSize * float (Limits.gates spec.Cell + 3) + inputWidth + 3.0 * float spec.Outputs
            let traceBytes = float (min (int64 batchSize) windowCount) * steps * perStep * 8.0 * 2.0
            Limits.checkModel spec names (sprintf "training on batches of --batch-size %d × --window %d steps" batchSize window) (dataBytes + traceBytes)
                "lower --hidden, --layers, --batch-size or --window"
        let s = start args output characters options epochs checkModel
        // Everything but the limits (--epochs, --max-steps) shapes the continuation: a resume must use the options the
        // run started with. The options a run may leave out are recorded only when given, so checkpoints from before
        // they existed resume as they were.
        let fingerprint =
            [ yield! [ "text", source; "window", string window; "stride", string stride; "batch-size", string batchSize
                       "learning-rate", rate.ToString("R", CultureInfo.InvariantCulture); "optimizer", Optimizers.name options.Optimizer
                       "bptt", (match options.TruncateEvery with Some k -> string k | None -> "none")
                       "clip-norm", clip.ToString("R", CultureInfo.InvariantCulture); "seed", string seed ]
              match validationSplit with
              | Some f -> "validation-split", f.ToString("R", CultureInfo.InvariantCulture)
              | None -> ()
              match patience with
              | Some p -> "early-stopping", string p
              | None -> ()
              digestKey, digest ]
            |> List.map (fun (k, v) -> k + "=" + v) |> fun parts -> String.Join("; ", parts)
        match s.Metadata.TryFind optionsKey with
        | Some saved when s.Resumed && saved <> fingerprint ->
            let parse (text: string) = text.Split("; ") |> Array.map (fun kv -> let i = kv.IndexOf '=' in kv.[.. i - 1], kv.[i + 1 ..]) |> Map.ofArray
            let before = parse saved
            // A checkpoint from an rnnad that did not record the text's digest resumes on its options alone.
            let now = if before.ContainsKey digestKey then parse fingerprint else (parse fingerprint).Remove digestKey
            match before.TryFind digestKey with
            | Some was when was <> digest ->
                raise (CommandFailedException(
                    sprintf "--resume: the text %s changed since the run started (its SHA-256 was %s, now %s); resume with the text the run trained on"
                        source was digest))
            | _ -> ()
            let differing =
                now |> Map.toList |> List.filter (fun (k, v) -> before.TryFind k <> Some v)
                |> List.map (fun (k, v) -> sprintf "--%s %s (the run used %s)" k v (defaultArg (before.TryFind k) "nothing"))
            if not differing.IsEmpty then
                raise (CommandFailedException(sprintf "--resume must repeat the options the run started with: %s" (String.Join(", ", differing))))
        | _ -> ()
        let ids =
            match characters |> Array.tryFindIndex (fun c -> (s.Vocabulary.TryId c).IsNone) with
            | Some i ->
                raise (CommandFailedException(
                    sprintf "the text's character %s at position %d is not in the checkpoint's vocabulary; resume with the text the model was trained on"
                        (Options.quote characters.[i]) i))
            | None -> Vocab.encode s.Vocabulary characters
        let examples = Windows.strided window stride ids.[.. trained - 1]
        let validation =
            if trained = ids.Length then None
            else Some(Windows.strided window window ids.[trained ..] |> Batching.inOrder batchSize Batching.languageModel)
        let batchesPerEpoch = int batchesPerEpoch
        let data = { Train = (fun epoch -> Batching.epoch (Seed.derive seed "batches") epoch batchSize Batching.languageModel examples); Validation = validation }
        let distinct = characters |> Array.distinct |> Array.length
        // A resumed run that restores the best epoch takes its parameters from the best checkpoint.
        let state =
            match s.State.Monitor.Best, best with
            | Some b, Some bestPath when s.Resumed ->
                if not (File.Exists bestPath) then
                    raise (CommandFailedException(sprintf "--resume: the best checkpoint '%s' of epoch %d is missing; the run needs it to keep its best epoch" bestPath (b.Epoch + 1)))
                let _, saved = TrainingCheckpoint.load bestPath
                { s.State with Monitor = { s.State.Monitor with BestParameters = Some saved.Parameters } }
            | _ -> s.State

        Terminal.heading t "rnnad train: a character language model"
        let field (name: string) (value: string) = Terminal.line t (sprintf "  %-9s %s" name value)
        field "text" (sprintf "%s: %s characters, %d distinct" source (count characters.LongLength) distinct)
        field "model" (sprintf "%s: %s parameters" (describeModel s.Spec) (count (parameterCount s.Spec)))
        field "data" (sprintf "%d windows of %d characters (stride %d), %d batches of up to %d per epoch" examples.Length window stride batchesPerEpoch batchSize)
        match validation with
        | Some batches ->
            field "validation"
                (sprintf "the last %s characters (--validation-split %s): %d windows of %d, apart from the training windows"
                    (count (int64 (ids.Length - trained))) (validationSplit.Value.ToString CultureInfo.InvariantCulture) (batches |> Array.sumBy (fun b -> b.Batch)) window)
        | None -> ()
        field "training"
            (sprintf "%d epochs%s, %s, learning rate %g, %s, %s, seed %d" epochs
                (match maxSteps with Some n -> sprintf " or %d steps" n | None -> "") (Optimizers.name options.Optimizer) rate
                (match options.ClipNorm with Some c -> sprintf "gradient norm clipped to %g" c | None -> "no clipping")
                (match options.TruncateEvery with Some k -> sprintf "truncated BPTT every %d steps" k | None -> "full BPTT")
                seed)
        match patience with
        | Some p -> field "stopping" (sprintf "after %d epoch%s without a lower validation loss (--early-stopping)" p (if p = 1 then "" else "s"))
        | None -> ()
        field "matmul" (Gemm.describe ())
        field "output"
            (sprintf "%s (training checkpoint)%s, %s (loss curve)%s" output
                (match best with Some path -> sprintf ", %s (best epoch)" path | None -> "") curve
                (match historyPath with Some path -> sprintf ", %s (history)" path | None -> ""))
        if s.Resumed then field "resuming" (sprintf "from epoch %d, batch %d (%d updates done)" (s.State.Epoch + 1) s.State.Batch s.State.StepsDone)
        if s.Spec.Dropout > 0.0 && s.Spec.Layers = 1 then
            Terminal.line t "  note: dropout acts between stacked layers, so with one layer it changes nothing (as in PyTorch)."

        let write path (state: TrainingState) = TrainingCheckpoint.saveWith path s.Spec (Some s.Vocabulary.Tokens) [ optionsKey, fingerprint ] state
        let last = Keeper(output, write)
        let bestKeeper = best |> Option.map (fun path -> Keeper(path, write))
        let batchLosses = ResizeArray<float * float>()
        let epochReports = ResizeArray<EpochReport>()
        let total = float (int64 (epochs - s.State.Epoch) * int64 batchesPerEpoch - int64 s.State.Batch)
        let total = match maxSteps with Some n -> min total (float (int64 n - s.State.StepsDone)) | None -> total
        let epochWidth = (string epochs).Length
        let validated = validation.IsSome
        let outcome =
            try
                Terminal.progress t "training" total (fun progress ->
                    let report event =
                        match event with
                        | TrainingEvent.StepCompleted r ->
                            // x in epochs: update k of the whole run ends at k / batches-per-epoch.
                            batchLosses.Add(float r.Step / float batchesPerEpoch, r.Loss)
                            progress.Update (float (r.Step - s.State.StepsDone))
                                (sprintf "epoch %d/%d  update %d/%d  loss %s  %s batches/s  %s left" (r.Epoch + 1) epochs r.Step r.TotalSteps
                                    (Options.number 4 r.Loss) (Options.number 1 r.StepsPerSecond) (r.Remaining.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture)))
                        | TrainingEvent.EpochCompleted e ->
                            epochReports.Add e
                            if t.Rich.IsNone then
                                let row = epochRow validated e
                                let valid = if validated then sprintf "  val loss %s  val bpc %s" row.[4] row.[5] else ""
                                Terminal.line t
                                    (sprintf "epoch %*s/%d  loss %s  perplexity %s  bpc %s%s  %s s  %s batches/s%s%s" epochWidth (string (e.Epoch + 1)) epochs
                                        row.[1] row.[2] row.[3] valid row.[row.Length - 2] row.[row.Length - 1]
                                        (if validated && e.IsBest then "  (best)" else "") (if e.Complete then "" else sprintf "  (%d of its batches)" e.Steps))
                        | TrainingEvent.CheckpointSaved state ->
                            if t.Rich.IsNone then Terminal.line t (sprintf "  checkpoint saved after update %d" state.StepsDone)
                        TrainingDecision.Continue
                    let hooks =
                        { TrainingHooks.Default with
                            OnEvent = report
                            SaveCheckpoint = last.Save
                            SaveBest = (fun state -> bestKeeper |> Option.iter (fun k -> k.Save state))
                            Cancellation = cancel }
                    Training.run (SequenceModel.model s.Spec) options data hooks state)
            with
            | FitDivergedException (message, _) ->
                raise (CommandFailedException(message + "; try a lower --learning-rate or a smaller --clip-norm"))
            | :? FitCanceledException as e ->
                // The work done is kept: the state after the last completed update is saved before stopping.
                last.Save e.State
                raise (OperationCanceledException(sprintf "interrupted; '%s' holds the training state after update %d (continue with --resume)" last.Location e.State.StepsDone))
        last.Save outcome.State
        for keeper in Option.toList bestKeeper @ [ last ] do
            match keeper.Rescued with
            | Some (path, reason) ->
                raise (CommandFailedException(sprintf "could not write the checkpoint (%s); the trained model is saved in '%s' instead" reason path))
            | None -> ()
        historyPath |> Option.iter (fun path ->
            TextOutput.write path (if path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) then History.toJson outcome.History else History.toCsv outcome.History))

        if t.Rich.IsSome then
            let reports = epochReports.ToArray()
            // A long run shows every k-th epoch (and the last) so the table stays on one screen; the curve has all.
            let every = if reports.Length <= 25 then 1 else (reports.Length + 19) / 20
            let shown = reports |> Array.indexed |> Array.filter (fun (i, _) -> (i + 1) % every = 0 || i = 0 || i = reports.Length - 1) |> Array.map snd
            Terminal.table t (if every = 1 then "epochs" else sprintf "every %d epochs (all are in the loss curve)" every)
                [ yield! [ "epoch", true; "loss", true; "perplexity", true; "bpc", true ]
                  if validated then yield! [ "val loss", true; "val bpc", true ]
                  yield! [ "seconds", true; "batches/s", true ] ]
                [ for e in shown -> epochRow validated e ]

        let epochLosses = epochReports |> Seq.map (fun e -> float (e.Epoch + 1), e.TrainLoss) |> Array.ofSeq
        let validationLosses = epochReports |> Seq.choose (fun e -> e.Validation |> Option.map (fun v -> float (e.Epoch + 1), v.Loss)) |> Array.ofSeq
        Plotting.lines
            { Title = sprintf "rnnad train: %s" (describeModel s.Spec)
              XLabel = "epoch"
              YLabel = "cross-entropy loss"
              XTickLabels = [||]
              // Linear: the loss spans about one decade, where a log axis would label a single tick.
              LogY = false
              YRange = None
              Series =
                [ yield { Label = "batch"; X = Array.map fst (batchLosses.ToArray()); Y = Array.map snd (batchLosses.ToArray()) }
                  yield { Label = "epoch mean"; X = Array.map fst epochLosses; Y = Array.map snd epochLosses }
                  if validationLosses.Length > 0 then
                      yield { Label = "validation"; X = Array.map fst validationLosses; Y = Array.map snd validationLosses } ] }
            curve
        |> ignore

        Terminal.line t ""
        if epochLosses.Length > 0 then
            let first, lastLoss = snd epochLosses.[0], snd epochLosses.[epochLosses.Length - 1]
            Terminal.line t
                (sprintf "loss %s -> %s over %d epoch%s in %s s; guessing uniformly among %d characters scores ln %d = %s."
                    (Options.number 4 first) (Options.number 4 lastLoss) epochLosses.Length (if epochLosses.Length = 1 then "" else "s")
                    (Options.number 1 clock.Elapsed.TotalSeconds) s.Vocabulary.Count s.Vocabulary.Count (Options.number 4 (log (float s.Vocabulary.Count))))
        match outcome.Best, validated with
        | Some b, true ->
            Terminal.line t
                (sprintf "validation: loss %s, %s bits per character at epoch %d, the best; %s holds it."
                    (Options.number 4 b.Value) (Options.number 3 (b.Value / log 2.0)) (b.Epoch + 1) best.Value)
        | _ -> ()
        match outcome.Stop with
        | StopReason.EarlyStopped ->
            Terminal.line t (sprintf "stopped early: the validation loss has not fallen for %d epochs since epoch %d (--early-stopping %d)." outcome.State.Monitor.EpochsSinceBest (outcome.Best.Value.Epoch + 1) patience.Value)
        | StopReason.MaxSteps -> Terminal.line t (sprintf "stopped after --max-steps %d batches." maxSteps.Value)
        | _ -> ()
        Terminal.line t (sprintf "wrote %s and %s%s" output curve (match historyPath with Some h -> " and " + h | None -> ""))
        if sampleLength > 0 then
            let prompt = firstWord characters
            let sampling = { Temperature = 0.5; TopK = None; Seed = Seed.derive seed "sample" }
            let generated = Generation.sample (SequenceModel.model s.Spec) outcome.Parameters (Vocab.encode s.Vocabulary prompt) sampleLength sampling
            Terminal.line t ""
            // With validation data the sample comes from the best epoch, which the best checkpoint holds.
            let from, model =
                match outcome.Best, best with
                | Some b, Some path -> sprintf ", from the best epoch (%d)" (b.Epoch + 1), path
                | _ -> "", output
            Terminal.heading t (sprintf "sample (%d characters after \"%s\", temperature 0.5%s; rnnad sample --model %s for more):" sampleLength (String.Concat prompt) from model)
            let sample = String.Concat prompt + String.Concat(Vocab.decode s.Vocabulary generated)
            for l in sample.Replace("\r\n", "\n").Split '\n' do
                Terminal.line t ("  " + l)
        0
