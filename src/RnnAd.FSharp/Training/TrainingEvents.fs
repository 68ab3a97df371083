namespace RnnAd.FSharp

open RnnAd
open System
open System.Threading

/// Where training stands: enough to resume and get the same bits as an uninterrupted run. Randomness is
/// derived from (Seed, step), so no generator state needs saving.
type TrainingState =
    { Parameters: NamedTensors
      Optimizer: OptimizerState
      /// The epoch in progress (0-based).
      Epoch: int
      /// Batches of that epoch already done.
      Batch: int
      /// Steps (batches) done since the start of training.
      StepsDone: int64
      /// What the monitored figure has shown so far: the best epoch, early stopping's count, ReduceOnPlateau.
      Monitor: MonitorState }

/// One step (batch) done.
type StepReport =
    { Epoch: int
      /// Batches of the epoch done, this one included (`BatchesInEpoch` when it ends the epoch).
      Batch: int
      /// Batches in the epoch.
      BatchesInEpoch: int
      /// Steps done since the start of training, this one included.
      Step: int64
      /// Optimizer updates done since the start of training.
      Update: int64
      /// The batch's mean loss (the mean over its chunks under truncated BPTT).
      Loss: float
      /// The gradients' global norm before clipping (of the batch's last update).
      GradientNorm: float
      /// The learning rate of the batch's last update.
      LearningRate: float
      /// Steps per second since this call started.
      StepsPerSecond: float
      /// The steps the whole run takes unless early stopping, the time budget or a hook ends it sooner: every
      /// epoch's batches (counted as the current epoch's), or MaxSteps when fewer.
      TotalSteps: int64
      /// Time since this call started.
      Elapsed: TimeSpan
      /// Estimated time to `TotalSteps` at this call's pace so far, or to the end of the time budget if sooner.
      Remaining: TimeSpan }

/// One epoch done, or the part of one that ran before training stopped within it.
type EpochReport =
    { Epoch: int
      /// Mean of its batch losses (of the batches run in this call).
      TrainLoss: float
      /// Figures of the training batches as they were trained (with dropout and the weights of each moment, as
      /// Keras reports them); None when no batch of the epoch ran in this call (resumed at its very end).
      Training: Metrics option
      /// Figures of the validation data at the end of the epoch, if any were given.
      Validation: Metrics option
      /// Wall-clock time, by the hooks' clock.
      Seconds: float
      /// Steps (batches) the epoch ran in this call.
      Steps: int
      /// Whether the epoch ran to its last batch. Only complete epochs count for the best epoch, early stopping
      /// and ReduceOnPlateau (a resumed run completes a partial one).
      Complete: bool
      /// The learning rate for the next update (after ReduceOnPlateau's decision).
      LearningRate: float
      /// Whether the epoch is the best so far by the monitored figure.
      IsBest: bool }

/// Why training ended without an error.
[<RequireQualifiedAccess>]
type StopReason =
    /// Every epoch ran.
    | Completed
    /// The monitored figure did not improve for `EarlyStopping.Patience` epochs.
    | EarlyStopped
    /// `MaxSteps` steps were done.
    | MaxSteps
    /// The time budget ran out.
    | TimeBudget
    /// A hook asked to stop.
    | Requested

/// What the trainer reports while it runs.
[<RequireQualifiedAccess>]
type TrainingEvent =
    | StepCompleted of StepReport
    | EpochCompleted of EpochReport
    | CheckpointSaved of TrainingState

/// A hook's answer to an event: go on, or stop training there (after the step, or the epoch, just reported).
[<RequireQualifiedAccess>]
type TrainingDecision =
    | Continue
    | Stop

/// What the trainer calls while it runs; `TrainingHooks.Default` calls nothing, never stops and reads the
/// system clock.
[<NoEquality; NoComparison>]
type TrainingHooks =
    { /// Every event, in order, on the training thread; a Stop ends training after the step or epoch reported.
      OnEvent: TrainingEvent -> TrainingDecision
      /// Saves a state as the run's checkpoint (every `CheckpointEvery` steps).
      SaveCheckpoint: TrainingState -> unit
      /// Saves the state at the end of a new best epoch (keep it apart from the last: it is the one to restore).
      SaveBest: TrainingState -> unit
      /// Checked before every step.
      Cancellation: CancellationToken
      /// The clock of the time budget, throughput, durations and estimates (a test passes one it moves itself).
      Clock: TimeProvider }

    /// No hooks, the system clock.
    static member Default =
        { OnEvent = (fun _ -> TrainingDecision.Continue)
          SaveCheckpoint = ignore
          SaveBest = ignore
          Cancellation = CancellationToken.None
          Clock = TimeProvider.System }

/// How a training run ended.
[<NoEquality; NoComparison>]
type TrainingOutcome =
    { /// The state after the last step: what the last checkpoint holds and a resumed run starts from.
      State: TrainingState
      /// The parameters to use: the best epoch's when `RestoreBest` is set and an epoch completed, else the last.
      Parameters: NamedTensors
      /// One report per epoch run in this call (a partial last one included).
      History: EpochReport list
      /// Why it ended.
      Stop: StopReason
      /// The best epoch by the monitored figure, if an epoch completed.
      Best: BestEpoch option }

/// The batches of an epoch (deterministic in the epoch: shuffling seeds derive from it) and optional
/// validation batches.
type TrainingData =
    { Train: int -> Minibatch[]
      Validation: Minibatch[] option }

/// Training stopped because a loss or gradient was not finite; the message names the step (and the
/// parameter). The parameters of the step before are intact in `LastGoodState`.
exception FitDivergedException of message: string * LastGoodState: TrainingState
    with
        override e.Message = e.message

/// Training was cancelled between two steps. `State` is the state after the last completed step (the same bits a
/// checkpoint saved then holds), so the work done is kept; `History` the epochs reported before.
type FitCanceledException(message: string, state: TrainingState, history: EpochReport list, token: CancellationToken) =
    inherit OperationCanceledException(message, token)

    /// The state after the last completed step.
    member _.State = state

    /// The epochs reported before the cancellation.
    member _.History = history
