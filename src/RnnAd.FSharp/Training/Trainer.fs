namespace RnnAd.FSharp

open RnnAd
open System
open System.Diagnostics
open System.Threading
open RnnAd.FSharp.Storage

/// How to train.
type TrainingOptions =
    { Optimizer: Optimizer
      Schedule: Schedule
      Epochs: int
      /// Truncated BPTT window k. PerStep models: each batch is cut into chunks of k steps, one update per
      /// chunk, the state carried across chunks but detached. LastStep models: one update per batch with
      /// the state detached every k steps. None: full BPTT.
      TruncateEvery: int option
      /// Clip the gradients' global norm to this value before each update.
      ClipNorm: float option
      /// Clamp every gradient entry into ±this value before each update (after ClipNorm).
      ClipValue: float option
      /// The seed of every random choice the trainer makes (dropout masks).
      Seed: int
      /// Call the checkpoint callback after every this many batches.
      CheckpointEvery: int option
      /// Stop as diverged when a loss exceeds this many times the mean batch loss of the run so far: a run
      /// whose loss climbs by orders of magnitude is lost even while its numbers stay finite (10⁴ is far above
      /// any noise of a converging run). None checks only that losses and gradients are finite.
      RunawayFactor: float option }

/// Where training stands: enough to resume and get the same bits as an uninterrupted run. Randomness is
/// derived from (Seed, step), so no generator state needs saving.
type TrainingState =
    { Parameters: NamedTensors
      Optimizer: OptimizerState
      /// The epoch in progress (0-based).
      Epoch: int
      /// Batches of that epoch already done.
      Batch: int
      /// Batches done since the start of training.
      StepsDone: int64 }

/// One batch done.
type StepReport =
    { Epoch: int
      Step: int64
      Loss: float
      GradientNorm: float
      LearningRate: float
      StepsPerSecond: float }

/// One epoch done.
type EpochReport =
    { Epoch: int
      TrainLoss: float
      Validation: Metrics option
      Seconds: float }

/// What the trainer reports while it runs.
[<RequireQualifiedAccess>]
type TrainingEvent =
    | StepCompleted of StepReport
    | EpochCompleted of EpochReport
    | CheckpointSaved of TrainingState

/// The batches of an epoch (deterministic in the epoch: shuffling seeds derive from it) and optional
/// validation batches.
type TrainingData =
    { Train: int -> SequenceBatch[]
      Validation: SequenceBatch[] option }

/// Training stopped because a loss or gradient was not finite; the message names the step (and the
/// parameter). The parameters of the step before are intact in `LastGoodState`.
exception TrainingDivergedException of message: string * LastGoodState: TrainingState
    with
        override e.Message = e.message

/// The training loop.
[<RequireQualifiedAccess>]
module Trainer =

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

    /// The state before the first batch.
    let start (options: TrainingOptions) (ps: NamedTensors) : TrainingState =
        { Parameters = ps; Optimizer = Optimizers.init options.Optimizer ps; Epoch = 0; Batch = 0; StepsDone = 0L }

    /// The first entry that is not finite, as (flat index, value).
    let private firstNonFinite (t: Tensor) =
        let span = t.Value.AsSpan()
        let mutable i = 0
        while i < span.Length && Double.IsFinite span.[i] do
            i <- i + 1
        if i < span.Length then Some(i, span.[i]) else None

    /// Trains from `state` to the end of `options.Epochs`, reporting through `report` and saving through
    /// `saveCheckpoint`. Cancellation is checked before every batch and raises OperationCanceledException;
    /// the last checkpoint saved stays valid.
    let fit
        (model: Model)
        (options: TrainingOptions)
        (data: TrainingData)
        (report: TrainingEvent -> unit)
        (saveCheckpoint: TrainingState -> unit)
        (cancel: CancellationToken)
        (state: TrainingState)
        : TrainingState * EpochReport list =
        validate options
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
        let mutable state = state
        let history = ResizeArray<EpochReport>()
        let clock = Stopwatch.StartNew()
        let mutable stepsThisRun = 0
        let mutable lossesThisRun = 0.0
        for epoch in state.Epoch .. options.Epochs - 1 do
            let epochClock = Stopwatch.StartNew()
            let batches = data.Train epoch
            // An epoch without a batch would train nothing and report a NaN loss as if it had.
            if isNull batches || batches.Length = 0 then
                invalidArg "data" (sprintf "the training data gives no batch for epoch %d: the dataset is empty" epoch)
            if epoch = state.Epoch && state.Batch > batches.Length then
                invalidArg "state" (sprintf "the state resumes epoch %d after batch %d, but the epoch has %d batches: the data or the batch size changed" epoch state.Batch batches.Length)
            let mutable lossSum = 0.0
            let mutable counted = 0
            for b in (if epoch = state.Epoch then state.Batch else 0) .. batches.Length - 1 do
                cancel.ThrowIfCancellationRequested()
                let batch = batches.[b]
                let chunks =
                    match options.TruncateEvery, model.Head with
                    | Some k, HeadKind.PerStep when k < batch.Time ->
                        [| for s in 0 .. k .. batch.Time - 1 -> Model.sliceTime s (min k (batch.Time - s)) batch |]
                    | _ -> [| batch |]
                let detachEvery = match model.Head with HeadKind.LastStep -> options.TruncateEvery | HeadKind.PerStep -> None
                let beforeBatch = state
                let mutable carried = None
                let mutable batchLoss = 0.0
                let mutable norm = 0.0
                let mutable lr = 0.0
                for c in 0 .. chunks.Length - 1 do
                    let runOptions =
                        { RunOptions.Default with
                            DropoutSeed = (if model.Stochastic then Some(Seed.deriveIndexed (Seed.deriveIndexed options.Seed "dropout" state.StepsDone) "chunk" (int64 c)) else None)
                            Initial = carried
                            DetachEvery = detachEvery }
                    // The loss function also hands out the chunk's final states, detached below, for the next chunk.
                    let finals = ref [||]
                    let loss, grads =
                        Ad.Named.valueAndGrad (fun p ->
                            let l, f = Model.loss model p runOptions chunks.[c]
                            finals.Value <- f
                            l) state.Parameters
                    carried <- Some(finals.Value |> Array.map Sequence.detach)
                    let lossValue = loss.ToScalar()
                    let fail (why: string) =
                        raise (TrainingDivergedException(sprintf "training diverged at epoch %d, batch %d (step %d): %s" epoch b (state.StepsDone + 1L) why, beforeBatch))
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
                    let grads, n = match options.ClipNorm with Some c -> Clipping.byGlobalNorm c grads | None -> grads, Clipping.globalNorm grads
                    let grads = match options.ClipValue with Some c -> Clipping.byValue c grads | None -> grads
                    lr <- Schedules.rate options.Schedule state.Optimizer.Step
                    let ps, opt = Optimizers.step options.Optimizer lr state.Parameters state.Optimizer grads
                    state <- { state with Parameters = ps; Optimizer = opt }
                    batchLoss <- batchLoss + lossValue / float chunks.Length
                    norm <- n
                state <- { state with Epoch = epoch; Batch = b + 1; StepsDone = state.StepsDone + 1L }
                lossSum <- lossSum + batchLoss
                counted <- counted + 1
                stepsThisRun <- stepsThisRun + 1
                lossesThisRun <- lossesThisRun + batchLoss
                report (TrainingEvent.StepCompleted
                    { Epoch = epoch; Step = state.StepsDone; Loss = batchLoss; GradientNorm = norm; LearningRate = lr
                      StepsPerSecond = float stepsThisRun / max 1e-9 clock.Elapsed.TotalSeconds })
                match options.CheckpointEvery with
                | Some every when state.StepsDone % int64 every = 0L ->
                    saveCheckpoint state
                    report (TrainingEvent.CheckpointSaved state)
                | _ -> ()
            state <- { state with Epoch = epoch + 1; Batch = 0 }
            let summary =
                { Epoch = epoch
                  TrainLoss = (if counted = 0 then nan else lossSum / float counted)
                  Validation = data.Validation |> Option.map (Evaluation.metrics model state.Parameters)
                  Seconds = epochClock.Elapsed.TotalSeconds }
            history.Add summary
            report (TrainingEvent.EpochCompleted summary)
        state, List.ofSeq history
