namespace RnnAd.FSharp

open RnnAd
open System
open RnnAd.FSharp.Storage

/// The training loop.
[<RequireQualifiedAccess>]
module Training =

    /// Checks options, naming the field at fault.
    let validate (options: TrainingOptions) : unit =
        Optimizers.validate options.Optimizer
        Schedules.validate options.Schedule
        if options.Epochs < 0 then invalidArg "Epochs" (sprintf "Epochs must be non-negative, got %d" options.Epochs)
        match options.TruncateEvery with
        | Some k when k <= 0 -> invalidArg "TruncateEvery" (sprintf "the BPTT window must be positive, got %d" k)
        | _ -> ()
        match options.ClipNorm with
        | Some c when not (c > 0.0) -> invalidArg "ClipNorm" (sprintf "ClipNorm must be positive, got %g" c)
        | _ -> ()
        match options.ClipValue with
        | Some c when not (c > 0.0) -> invalidArg "ClipValue" (sprintf "ClipValue must be positive, got %g" c)
        | _ -> ()
        match options.CheckpointEvery with
        | Some n when n <= 0 -> invalidArg "CheckpointEvery" (sprintf "CheckpointEvery must be positive, got %d" n)
        | _ -> ()
        match options.RunawayFactor with
        | Some f when not (f > 1.0) || Double.IsInfinity f -> invalidArg "RunawayFactor" (sprintf "RunawayFactor must be a finite number above 1, got %g" f)
        | _ -> ()
        match options.MaxSteps with
        | Some n when n <= 0L -> invalidArg "MaxSteps" (sprintf "MaxSteps must be positive, got %d" n)
        | _ -> ()
        match options.TimeBudget with
        | Some t when t <= TimeSpan.Zero -> invalidArg "TimeBudget" (sprintf "TimeBudget must be positive, got %O" t)
        | _ -> ()
        options.EarlyStopping |> Option.iter EarlyStopping.validate

    /// The state before the first batch.
    let start (options: TrainingOptions) (ps: NamedTensors) : TrainingState =
        { Parameters = ps; Optimizer = Optimizers.init options.Optimizer ps; Epoch = 0; Batch = 0; StepsDone = 0L; Monitor = MonitorState.Empty }

    /// The updates one batch makes: one per chunk of `TruncateEvery` steps for a per-step model, else one.
    let updatesPerBatch (model: Model) (options: TrainingOptions) (batch: Minibatch) : int =
        match options.TruncateEvery, model.Head with
        | Some k, HeadKind.PerStep when k < batch.Time -> (batch.Time + k - 1) / k
        | _ -> 1

    /// The updates a list of batches makes (an epoch's, to size a schedule in updates).
    let updatesIn (model: Model) (options: TrainingOptions) (batches: Minibatch seq) : int64 =
        batches |> Seq.sumBy (updatesPerBatch model options >> int64)

    /// The first entry that is not finite, as (flat index, value).
    let private firstNonFinite (t: Tensor) =
        let span = t.Value.AsSpan()
        let mutable i = 0
        while i < span.Length && Double.IsFinite span.[i] do
            i <- i + 1
        if i < span.Length then Some(i, span.[i]) else None

    /// Raises unless the state fits the model and options: every parameter, the optimizer's buffers, and the best
    /// epoch's parameters when they are to be restored.
    let private checkState (model: Model) (options: TrainingOptions) (state: TrainingState) : unit =
        Model.check model state.Parameters
        // The optimizer keeps one buffer per kind and parameter, named `<kind>.<parameter>`, of the parameter's shape.
        let expectedBuffers =
            [| for kind in Optimizers.bufferNames options.Optimizer do
                 for name, t in state.Parameters.Entries -> kind + "." + name, t.Shape |]
        if state.Optimizer.Buffers.Names <> Array.map fst expectedBuffers then
            let kinds (names: string[]) =
                let distinct = names |> Array.map (fun n -> n.Substring(0, max 0 (n.IndexOf '.'))) |> Array.distinct
                if distinct.Length = 0 then "no buffers" else String.Join(", ", distinct)
            invalidArg "state" (sprintf "the optimizer state holds %s buffers, but %s keeps %s: resume with the optimizer the state was saved with"
                                    (kinds state.Optimizer.Buffers.Names) (Optimizers.name options.Optimizer) (kinds (Array.map fst expectedBuffers)))
        for (name, shape), buffer in Array.zip expectedBuffers state.Optimizer.Buffers.Tensors do
            if not (Shape.equal buffer.Shape shape) then
                Shape.fail "optimizer state" (sprintf "'%s' has shape %s in one collection and %s in the other" name (Shape.format buffer.Shape) (Shape.format shape))
        match state.Monitor.Best, state.Monitor.BestParameters with
        | Some best, None when options.RestoreBest ->
            invalidArg "state"
                (sprintf "the state's best epoch (%d) comes without its parameters, which RestoreBest needs: set Monitor.BestParameters from its best checkpoint"
                     (best.Epoch + 1))
        | _, Some ps -> Model.check model ps
        | _ -> ()

    /// Trains from `state` until every epoch has run or something stops it: early stopping, `MaxSteps`, the
    /// time budget or a hook's Stop. Reports every step and epoch through `hooks.OnEvent`, saves through
    /// `hooks.SaveCheckpoint` every `CheckpointEvery` steps and through `hooks.SaveBest` at each new best epoch.
    /// Cancellation is checked before every step and raises a `FitCanceledException` (an
    /// OperationCanceledException) that carries the state after the last completed step. A loss or gradient
    /// that is not finite, or a runaway loss, raises a `FitDivergedException` with the state before it.
    let run (model: Model) (options: TrainingOptions) (data: TrainingData) (hooks: TrainingHooks) (start: TrainingState) : TrainingOutcome =
        validate options
        if not (Metrics.appliesTo model.Loss options.Monitor) then
            invalidArg "Monitor" (sprintf "the monitored figure %s does not apply to a model of the %s loss" (Metrics.name options.Monitor) model.Loss.Name)
        checkState model options start
        let clock = hooks.Clock
        let began = clock.GetTimestamp()
        let higherIsBetter = Metrics.higherIsBetter options.Monitor
        let mutable state =
            match Schedules.plateau options.Schedule, start.Monitor.Plateau with
            | Some (lr, _), None -> { start with Monitor = { start.Monitor with Plateau = Some(Schedules.plateauStart lr higherIsBetter) } }
            | _ -> start
        let history = ResizeArray<EpochReport>()
        let mutable stop: StopReason option = None
        let decide (event: TrainingEvent) =
            match hooks.OnEvent event with
            | TrainingDecision.Stop when stop.IsNone -> stop <- Some StopReason.Requested
            | _ -> ()
        let limitReached () =
            match options.MaxSteps, options.TimeBudget with
            | Some n, _ when state.StepsDone >= n -> Some StopReason.MaxSteps
            | _, Some budget when clock.GetElapsedTime began >= budget -> Some StopReason.TimeBudget
            | _ -> None
        let mutable stepsThisRun = 0
        let mutable lossesThisRun = 0.0
        let mutable epoch = state.Epoch
        stop <- limitReached ()
        while stop.IsNone && epoch < options.Epochs do
            let epochBegan = clock.GetTimestamp()
            let batches = data.Train epoch
            // An epoch without a batch would train nothing and report a NaN loss as if it had.
            if isNull batches || batches.Length = 0 then
                invalidArg "data" (sprintf "the training data gives no batch for epoch %d: the dataset is empty" epoch)
            if epoch = state.Epoch && state.Batch > batches.Length then
                invalidArg "state" (sprintf "the state resumes epoch %d after batch %d, but the epoch has %d batches: the data or the batch size changed" epoch state.Batch batches.Length)
            let training = MetricsAccumulator model.Loss
            let mutable lossSum = 0.0
            let mutable counted = 0
            let mutable b = if epoch = state.Epoch then state.Batch else 0
            while stop.IsNone && b < batches.Length do
                if hooks.Cancellation.IsCancellationRequested then
                    raise (FitCanceledException(
                            sprintf "training was cancelled after step %d (epoch %d, batch %d); the state after it is kept" state.StepsDone epoch b,
                            state, List.ofSeq history, hooks.Cancellation))
                let batch = batches.[b]
                let chunks =
                    match updatesPerBatch model options batch, options.TruncateEvery with
                    | n, Some k when n > 1 -> [| for s in 0 .. k .. batch.Time - 1 -> Model.sliceTime s (min k (batch.Time - s)) batch |]
                    | _ -> [| batch |]
                let detachEvery = match model.Head with HeadKind.LastStep -> options.TruncateEvery | HeadKind.PerStep -> None
                let beforeBatch = state
                let mutable carried = None
                let mutable batchLoss = 0.0
                let mutable norm = 0.0
                let mutable lr = 0.0
                for c in 0 .. chunks.Length - 1 do
                    let chunk = chunks.[c]
                    let runOptions =
                        { RunOptions.Default with
                            DropoutSeed = (if model.Stochastic then Some(Seed.deriveIndexed (Seed.deriveIndexed options.Seed "dropout" state.StepsDone) "chunk" (int64 c)) else None)
                            Initial = carried
                            DetachEvery = detachEvery }
                    let weights = Model.positionWeights model.Head chunk
                    // The loss function also hands out the chunk's outputs (for the running figures) and its final
                    // states, detached below for the next chunk.
                    let finals = ref [||]
                    let outputs = ref Unchecked.defaultof<RawTensor>
                    let loss, grads =
                        Ad.Named.valueAndGrad (fun p ->
                            let o, f = model.Forward p runOptions chunk
                            finals.Value <- f
                            outputs.Value <- o.Value
                            Loss.compute model.Loss weights chunk.Targets o) state.Parameters
                    carried <- Some(finals.Value |> Array.map Sequence.detach)
                    let lossValue = loss.ToScalar()
                    let fail (why: string) =
                        raise (FitDivergedException(sprintf "training diverged at epoch %d, batch %d (step %d): %s" epoch b (state.StepsDone + 1L) why, beforeBatch))
                    if not (Double.IsFinite lossValue) then fail (sprintf "the loss is %g" lossValue)
                    match options.RunawayFactor with
                    | Some factor when stepsThisRun > 0 && lossValue > factor * (lossesThisRun / float stepsThisRun) ->
                        fail (sprintf "the loss is %g, more than %g times the run's mean batch loss so far (%g); lower the learning rate, or raise RunawayFactor"
                                  lossValue factor (lossesThisRun / float stepsThisRun))
                    | _ -> ()
                    for name, g in grads.Entries do
                        match firstNonFinite g with
                        | Some (i, v) -> fail (sprintf "the gradient of '%s' is %g at flat index %d" name v i)
                        | None -> ()
                    training.Add(lossValue, outputs.Value, chunk.Targets, weights)
                    let grads, n = match options.ClipNorm with Some c -> Clipping.byGlobalNorm c grads | None -> grads, Clipping.globalNorm grads
                    let grads = match options.ClipValue with Some c -> Clipping.byValue c grads | None -> grads
                    lr <- Schedules.rateWith state.Monitor.Plateau options.Schedule state.Optimizer.Step
                    let ps, opt = Optimizers.step options.Optimizer lr state.Parameters state.Optimizer grads
                    state <- { state with Parameters = ps; Optimizer = opt }
                    batchLoss <- batchLoss + lossValue / float chunks.Length
                    norm <- n
                state <- { state with Epoch = epoch; Batch = b + 1; StepsDone = state.StepsDone + 1L }
                lossSum <- lossSum + batchLoss
                counted <- counted + 1
                stepsThisRun <- stepsThisRun + 1
                lossesThisRun <- lossesThisRun + batchLoss
                let elapsed = clock.GetElapsedTime began
                let pace = float stepsThisRun / max 1e-9 elapsed.TotalSeconds
                // Every later epoch is taken to have as many batches as this one.
                let planned = state.StepsDone + int64 (batches.Length - b - 1) + int64 (options.Epochs - epoch - 1) * int64 batches.Length
                let total = match options.MaxSteps with Some n -> min n planned | None -> planned
                let remaining =
                    let atPace = TimeSpan.FromSeconds(min (float (total - state.StepsDone) / pace) 1e11)
                    match options.TimeBudget with
                    | Some budget when budget - elapsed < atPace -> max TimeSpan.Zero (budget - elapsed)
                    | _ -> atPace
                decide (TrainingEvent.StepCompleted
                    { Epoch = epoch; Batch = b + 1; BatchesInEpoch = batches.Length; Step = state.StepsDone; Update = state.Optimizer.Step; Loss = batchLoss; GradientNorm = norm; LearningRate = lr
                      StepsPerSecond = pace; TotalSteps = total; Elapsed = elapsed; Remaining = remaining })
                match options.CheckpointEvery with
                | Some every when state.StepsDone % int64 every = 0L ->
                    hooks.SaveCheckpoint state
                    decide (TrainingEvent.CheckpointSaved state)
                | _ -> ()
                b <- b + 1
                if stop.IsNone then stop <- limitReached ()
            let complete = b = batches.Length
            if complete || counted > 0 then
                if complete then state <- { state with Epoch = epoch + 1; Batch = 0 }
                let validation = data.Validation |> Option.map (Evaluation.metrics model state.Parameters)
                let trained = if training.Count > 0.0 then Some(training.Result()) else None
                let mutable isBest = false
                // Only a complete epoch is judged: a partial one would be judged again when a resumed run completes it.
                match (match validation with Some v -> Some v | None -> trained) with
                | Some figures when complete ->
                    let value = Metrics.value options.Monitor figures
                    let minDelta = match options.EarlyStopping with Some e -> e.MinDelta | None -> 0.0
                    let monitor, best = EarlyStopping.observe options.Monitor minDelta options.RestoreBest epoch state.StepsDone state.Parameters value state.Monitor
                    let monitor =
                        match Schedules.plateau options.Schedule, monitor.Plateau with
                        | Some (_, o), Some p -> { monitor with Plateau = Some(Schedules.plateauStep o higherIsBetter p value) }
                        | _ -> monitor
                    state <- { state with Monitor = monitor }
                    isBest <- best
                    if best then hooks.SaveBest state
                | _ -> ()
                let summary =
                    { Epoch = epoch
                      TrainLoss = (if counted = 0 then nan else lossSum / float counted)
                      Training = trained
                      Validation = validation
                      Seconds = (clock.GetElapsedTime epochBegan).TotalSeconds
                      Steps = counted
                      Complete = complete
                      LearningRate = Schedules.rateWith state.Monitor.Plateau options.Schedule state.Optimizer.Step
                      IsBest = isBest }
                history.Add summary
                decide (TrainingEvent.EpochCompleted summary)
                match options.EarlyStopping with
                | Some e when complete && stop.IsNone && state.Monitor.Best.IsSome && state.Monitor.EpochsSinceBest >= e.Patience ->
                    stop <- Some StopReason.EarlyStopped
                | _ -> ()
            epoch <- epoch + 1
            if stop.IsNone then stop <- limitReached ()
        { State = state
          Parameters =
            (match state.Monitor.BestParameters with
             | Some best when options.RestoreBest -> best
             | _ -> state.Parameters)
          History = List.ofSeq history
          Stop = defaultArg stop StopReason.Completed
          Best = state.Monitor.Best }

    /// `run` with a reporting function that never stops training and a checkpoint callback: the state after
    /// the last step (which `RestoreBest` does not change: `run` returns the restored parameters) and one report
    /// per epoch. Cancellation raises a `FitCanceledException` carrying the state after the last step.
    let fit
        (model: Model)
        (options: TrainingOptions)
        (data: TrainingData)
        (report: TrainingEvent -> unit)
        (saveCheckpoint: TrainingState -> unit)
        (cancel: Threading.CancellationToken)
        (state: TrainingState)
        : TrainingState * EpochReport list =
        let hooks =
            { TrainingHooks.Default with
                OnEvent = (fun e -> report e; TrainingDecision.Continue)
                SaveCheckpoint = saveCheckpoint
                Cancellation = cancel }
        let outcome = run model options data hooks state
        outcome.State, outcome.History
