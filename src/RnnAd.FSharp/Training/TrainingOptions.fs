namespace RnnAd.FSharp

open System

/// How to train. Start from `TrainingOptions.Default` and set what differs: `{ TrainingOptions.Default with … }`.
/// Two counts appear below: a step is one batch (what progress reports count), an update one optimizer update
/// (more than one per batch when truncated BPTT cuts a per-step model's batches into chunks; schedules count these).
type TrainingOptions =
    { Optimizer: Optimizer
      /// The learning rate of every update; its lengths count updates.
      Schedule: Schedule
      /// Passes over the training data (a resumed run goes on to this total).
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
      /// Call the checkpoint callback after every this many steps.
      CheckpointEvery: int option
      /// Stop as diverged when a loss exceeds this many times the mean batch loss of the run so far: a run
      /// whose loss climbs by orders of magnitude is lost even while its numbers stay finite (10⁴ is far above
      /// any noise of a converging run). None checks only that losses and gradients are finite.
      RunawayFactor: float option
      /// Stop once this many steps (batches) are done in all, counted from the start of training (a resumed
      /// run counts the steps before it).
      MaxSteps: int64 option
      /// Stop before the first step that would start this long after the call began (a resumed run gets the
      /// budget afresh). Time is read from the hooks' clock.
      TimeBudget: TimeSpan option
      /// The figure that picks the best epoch and drives early stopping and ReduceOnPlateau: of the validation
      /// data when there are some, else of the training batches as they were trained.
      Monitor: Metric
      /// Stop when the monitored figure stops improving; None trains every epoch.
      EarlyStopping: EarlyStopping option
      /// At the end of training, return the parameters of the best epoch by the monitored figure instead of
      /// the last ones (the training state stays the last, to resume from).
      RestoreBest: bool }

    /// Adam at a constant rate of 10⁻³ for 10 epochs, full BPTT, no clipping, seed 0, no checkpoints, runaway
    /// losses stopped at 10⁴ times the mean, no limits beside the epochs, the loss monitored, no early stopping.
    static member Default =
        { Optimizer = Optimizer.Adam AdamOptions.Default
          Schedule = Schedule.Constant 1e-3
          Epochs = 10
          TruncateEvery = None
          ClipNorm = None
          ClipValue = None
          Seed = 0
          CheckpointEvery = None
          RunawayFactor = Some 1e4
          MaxSteps = None
          TimeBudget = None
          Monitor = Metric.Loss
          EarlyStopping = None
          RestoreBest = false }
