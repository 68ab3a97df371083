namespace RnnAd.Cli

open System
open System.Diagnostics
open System.Globalization
open System.IO
open System.Threading
open Argu
open RnnAd.FSharp
open RnnAd.FSharp.Data
open RnnAd.FSharp.Storage
open RnnAd.Examples

/// `rnnad train`: a character language model (embedding → recurrent stack → linear head predicting the next
/// character at every step) trained on a text, saved as a training checkpoint with its loss curve beside it.
[<RequireQualifiedAccess>]
module TrainCommand =

    /// Where a run starts: a fresh model, or the training checkpoint being resumed.
    type private Start =
        { Spec: ModelSpec
          Vocabulary: Vocabulary
          State: TrainingState
          Resumed: bool
          /// The checkpoint's metadata when resuming (empty for a fresh model).
          Metadata: Map<string, string> }

    /// The metadata key holding the options a run was started with, so a resume can refuse to change them.
    let private optionsKey = "rnnad.cli.train"

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
                | Some tokens -> Vocabulary.ofTokens tokens
                | None -> raise (InvalidDataException(sprintf "checkpoint '%s' holds no vocabulary, so the text cannot be encoded for it" output))
            if model.Spec.Head <> HeadKind.PerStep || model.Spec.Bidirectional then
                raise (InvalidDataException(sprintf "checkpoint '%s' holds a %s model, not a character language model" output (describeModel model.Spec)))
            if state.Epoch >= epochs then
                raise (CommandFailedException(sprintf "the checkpoint '%s' has already trained %d epochs; ask for more with --epochs" output state.Epoch))
            { Spec = model.Spec; Vocabulary = vocabulary; State = state; Resumed = true; Metadata = model.Metadata }
        else
            let vocabulary = Vocabulary.build VocabularyOptions.Default [ characters ]
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
            { Spec = spec; Vocabulary = vocabulary; State = Trainer.start options (SequenceModel.init spec (Seed.derive seed "parameters")); Resumed = false
              Metadata = Map.empty }

    /// One epoch as a table row: epoch, loss, perplexity, seconds, batches per second.
    let private epochRow (batches: int) (e: EpochReport) : string[] =
        [| string (e.Epoch + 1); Options.number 4 e.TrainLoss; Options.number 2 (exp e.TrainLoss); Options.number 2 e.Seconds
           Options.number 1 (float batches / max 1e-9 e.Seconds) |]

    /// Trains as the options say; returns the exit code.
    let run (t: Terminal) (cancel: CancellationToken) (args: ParseResults<TrainArgs>) : int =
        let clock = Stopwatch.StartNew()
        let output = args.GetResult(TrainArgs.Output, "rnnad-model.safetensors")
        if String.IsNullOrWhiteSpace output then Options.fail "--output must name a file"
        let textPath = args.TryGetResult TrainArgs.Text
        let curve = lossCurvePath output
        // Both outputs are checked before the text is even read: a run that cannot keep its result, or would
        // write over its own text, must not start.
        checkOutput "--output" output (Option.toList textPath)
        checkOutput "the loss curve (written next to --output)" curve (Option.toList textPath)
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
                CheckpointEvery = args.TryGetResult TrainArgs.Checkpoint_Every |> Option.map (Options.positive "--checkpoint-every") }
        // The data's sizes, counted in int64 before anything is built: a size no machine holds is refused
        // naming its option, not met as an out-of-memory error (or a count wrapped around) later.
        let windowCount = int64 (characters.Length - window - 1) / int64 stride + 1L
        let batchesPerEpoch = (windowCount - 1L) / int64 batchSize + 1L
        if int64 epochs * batchesPerEpoch > Limits.maxUpdates then
            Options.fail (sprintf "--epochs %d makes %s updates (%s per epoch); one run makes at most %s (its loss curve keeps each one's loss)"
                            epochs (count (int64 epochs * batchesPerEpoch)) (count batchesPerEpoch) (count Limits.maxUpdates))
        // Each window is held twice (inputs and targets) as examples and again in an epoch's batches.
        let dataBytes = float windowCount * 4.0 * (4.0 * float window + 32.0) + float characters.Length * 12.0
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
        // Everything but --epochs shapes the continuation: a resume must use the options the run started with.
        let fingerprint =
            [ "text", source; "window", string window; "stride", string stride; "batch-size", string batchSize
              "learning-rate", rate.ToString("R", CultureInfo.InvariantCulture); "optimizer", Optimizers.name options.Optimizer
              "bptt", (match options.TruncateEvery with Some k -> string k | None -> "none")
              "clip-norm", clip.ToString("R", CultureInfo.InvariantCulture); "seed", string seed; digestKey, digest ]
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
            | None -> Vocabulary.encode s.Vocabulary characters
        let examples = Windows.strided window stride ids
        let batchesPerEpoch = int batchesPerEpoch
        let data = { Train = (fun epoch -> Batching.epoch (Seed.derive seed "batches") epoch batchSize Batching.languageModel examples); Validation = None }
        let distinct = characters |> Array.distinct |> Array.length

        Terminal.heading t "rnnad train: a character language model"
        let field (name: string) (value: string) = Terminal.line t (sprintf "  %-9s %s" name value)
        field "text" (sprintf "%s: %s characters, %d distinct" source (count characters.LongLength) distinct)
        field "model" (sprintf "%s: %s parameters" (describeModel s.Spec) (count (parameterCount s.Spec)))
        field "data" (sprintf "%d windows of %d characters (stride %d), %d batches of up to %d per epoch" examples.Length window stride batchesPerEpoch batchSize)
        field "training"
            (sprintf "%d epochs, %s, learning rate %g, %s, %s, seed %d" epochs (Optimizers.name options.Optimizer) rate
                (match options.ClipNorm with Some c -> sprintf "gradient norm clipped to %g" c | None -> "no clipping")
                (match options.TruncateEvery with Some k -> sprintf "truncated BPTT every %d steps" k | None -> "full BPTT")
                seed)
        field "matmul" (Gemm.describe ())
        field "output" (sprintf "%s (training checkpoint), %s (loss curve)" output curve)
        if s.Resumed then field "resuming" (sprintf "from epoch %d, batch %d (%d updates done)" (s.State.Epoch + 1) s.State.Batch s.State.StepsDone)
        if s.Spec.Dropout > 0.0 && s.Spec.Layers = 1 then
            Terminal.line t "  note: dropout acts between stacked layers, so with one layer it changes nothing (as in PyTorch)."

        let mutable saved = None
        // Where saves go once --output has failed (checked above, it can still vanish or fill up), and why.
        let mutable rescued: (string * string) option = None
        let save (state: TrainingState) =
            let write path = TrainingCheckpoint.saveWith path s.Spec (Some s.Vocabulary.Tokens) [ optionsKey, fingerprint ] state
            let failed (e: exn) = e :? IOException || e :? UnauthorizedAccessException
            try
                write output
                // The output works (again): a rescued copy is older than it.
                rescued |> Option.iter (fun (path, _) -> try File.Delete path with _ -> ())
                rescued <- None
            with e when failed e ->
                let candidates = match rescued with Some (path, _) -> [ path ] | None -> rescuePaths output
                let rec firstThatWorks (paths: string list) (errors: string list) =
                    match paths with
                    | [] ->
                        raise (CommandFailedException(
                            sprintf "could not write '%s' (%s), nor a rescue copy (%s); the trained model is lost" output e.Message (String.Join("; ", List.rev errors))))
                    | path :: rest ->
                        try
                            write path
                            path
                        with e2 when failed e2 -> firstThatWorks rest (e2.Message :: errors)
                rescued <- Some(firstThatWorks candidates [], e.Message)
            saved <- Some state.StepsDone
        // Where the last save landed.
        let savedIn () = match rescued with Some (path, _) -> path | None -> output
        let batchLosses = ResizeArray<float * float>()
        let epochReports = ResizeArray<EpochReport * int>()
        let mutable batchesThisEpoch = 0
        let total = float (int64 (epochs - s.State.Epoch) * int64 batchesPerEpoch - int64 s.State.Batch)
        let epochWidth = (string epochs).Length
        let final =
            try
                Terminal.progress t "training" total (fun progress ->
                    let report event =
                        match event with
                        | TrainingEvent.StepCompleted r ->
                            batchesThisEpoch <- batchesThisEpoch + 1
                            // x in epochs: update k of the whole run ends at k / batches-per-epoch.
                            batchLosses.Add(float r.Step / float batchesPerEpoch, r.Loss)
                            progress.Update (float (r.Step - s.State.StepsDone))
                                (sprintf "epoch %d/%d  update %d/%d  loss %s  %s batches/s" (r.Epoch + 1) epochs r.Step (int64 epochs * int64 batchesPerEpoch)
                                    (Options.number 4 r.Loss) (Options.number 1 r.StepsPerSecond))
                        | TrainingEvent.EpochCompleted e ->
                            epochReports.Add((e, batchesThisEpoch))
                            if t.Rich.IsNone then
                                let row = epochRow batchesThisEpoch e
                                Terminal.line t (sprintf "epoch %*s/%d  loss %s  perplexity %s  %s s  %s batches/s" epochWidth row.[0] epochs row.[1] row.[2] row.[3] row.[4])
                            batchesThisEpoch <- 0
                        | TrainingEvent.CheckpointSaved state ->
                            if t.Rich.IsNone then Terminal.line t (sprintf "  checkpoint saved after update %d" state.StepsDone)
                    fst (Trainer.fit (SequenceModel.model s.Spec) options data report save cancel s.State))
            with
            | TrainingDivergedException (message, _) ->
                raise (CommandFailedException(message + "; try a lower --learning-rate or a smaller --clip-norm"))
            | :? OperationCanceledException ->
                match saved with
                | Some steps -> raise (OperationCanceledException(sprintf "interrupted; '%s' holds the training state after update %d (continue with --resume)" (savedIn ()) steps))
                | None -> raise (OperationCanceledException "interrupted before any checkpoint was saved (--checkpoint-every saves during training)")
        save final
        match rescued with
        | Some (path, reason) ->
            raise (CommandFailedException(sprintf "could not write '%s' (%s); the trained model is saved in '%s' instead" output reason path))
        | None -> ()

        if t.Rich.IsSome then
            let reports = epochReports.ToArray()
            // A long run shows every k-th epoch (and the last) so the table stays on one screen; the curve has all.
            let every = if reports.Length <= 25 then 1 else (reports.Length + 19) / 20
            let shown = reports |> Array.indexed |> Array.filter (fun (i, _) -> (i + 1) % every = 0 || i = 0 || i = reports.Length - 1) |> Array.map snd
            Terminal.table t (if every = 1 then "epochs" else sprintf "every %d epochs (all are in the loss curve)" every)
                [ "epoch", true; "loss", true; "perplexity", true; "seconds", true; "batches/s", true ]
                [ for e, batches in shown -> epochRow batches e ]

        let epochLosses = epochReports |> Seq.map (fun (e, _) -> float (e.Epoch + 1), e.TrainLoss) |> Array.ofSeq
        Plotting.lines
            { Title = sprintf "rnnad train: %s" (describeModel s.Spec)
              XLabel = "epoch"
              YLabel = "cross-entropy loss"
              XTickLabels = [||]
              // Linear: the loss spans about one decade, where a log axis would label a single tick.
              LogY = false
              YRange = None
              Series =
                [ { Label = "batch"; X = Array.map fst (batchLosses.ToArray()); Y = Array.map snd (batchLosses.ToArray()) }
                  { Label = "epoch mean"; X = Array.map fst epochLosses; Y = Array.map snd epochLosses } ] }
            curve
        |> ignore

        let first, last = snd epochLosses.[0], snd epochLosses.[epochLosses.Length - 1]
        Terminal.line t ""
        Terminal.line t
            (sprintf "loss %s -> %s over %d epoch%s in %s s; guessing uniformly among %d characters scores ln %d = %s."
                (Options.number 4 first) (Options.number 4 last) epochLosses.Length (if epochLosses.Length = 1 then "" else "s")
                (Options.number 1 clock.Elapsed.TotalSeconds) s.Vocabulary.Count s.Vocabulary.Count (Options.number 4 (log (float s.Vocabulary.Count))))
        Terminal.line t (sprintf "wrote %s and %s" output curve)
        if sampleLength > 0 then
            let prompt = firstWord characters
            let sampling = { Temperature = 0.5; TopK = None; Seed = Seed.derive seed "sample" }
            let generated = Generation.sample (SequenceModel.model s.Spec) final.Parameters (Vocabulary.encode s.Vocabulary prompt) sampleLength sampling
            Terminal.line t ""
            Terminal.heading t (sprintf "sample (%d characters after \"%s\", temperature 0.5; rnnad sample --model %s for more):" sampleLength (String.Concat prompt) output)
            let sample = String.Concat prompt + String.Concat(Vocabulary.decode s.Vocabulary generated)
            for l in sample.Replace("\r\n", "\n").Split '\n' do
                Terminal.line t ("  " + l)
        0
