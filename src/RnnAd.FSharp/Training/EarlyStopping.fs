namespace RnnAd.FSharp

open System

/// Stopping when the monitored figure (`TrainingOptions.Monitor`) stops improving, as Keras's `EarlyStopping`:
/// an epoch improves when its figure beats the best so far by more than `MinDelta`, and training stops after
/// `Patience` epochs in a row that do not.
type EarlyStopping =
    { /// Epochs in a row without improvement that end training (at least 1).
      Patience: int
      /// How much better than the best so far a figure must be to count as an improvement (absolute, ≥ 0).
      MinDelta: float }

/// The best epoch so far by the monitored figure.
type BestEpoch =
    { /// The epoch (0-based).
      Epoch: int
      /// Steps (batches) done when it ended.
      Step: int64
      /// Its value of the monitored figure.
      Value: float }

/// What training remembers from epoch to epoch about the monitored figure; training checkpoints save it (all but
/// `BestParameters`, which the best checkpoint holds), so a resumed run stops and restores as an uninterrupted one.
type MonitorState =
    { /// The best epoch so far; None before the first epoch ends.
      Best: BestEpoch option
      /// The parameters at the end of the best epoch, kept while they may be restored (tensors are immutable, so
      /// this is a reference, not a copy).
      BestParameters: NamedTensors option
      /// Epochs since the best one.
      EpochsSinceBest: int
      /// ReduceOnPlateau's state, when the schedule has one.
      Plateau: PlateauState option }

    /// Nothing seen yet.
    static member Empty = { Best = None; BestParameters = None; EpochsSinceBest = 0; Plateau = None }

/// Judging epochs by the monitored figure.
[<RequireQualifiedAccess>]
module EarlyStopping =

    /// Checks the settings, naming the field at fault.
    let validate (o: EarlyStopping) : unit =
        if o.Patience < 1 then invalidArg "Patience" (sprintf "Patience must be at least 1 epoch, got %d" o.Patience)
        if not (o.MinDelta >= 0.0) || Double.IsInfinity o.MinDelta then
            invalidArg "MinDelta" (sprintf "MinDelta must be a finite number of 0 or more, got %g" o.MinDelta)

    /// Whether `value` of `metric` beats `best` by more than `minDelta` (a NaN never does; the first finite
    /// value beats no best at all).
    let improves (metric: Metric) (minDelta: float) (best: BestEpoch option) (value: float) : bool =
        match best with
        | _ when Double.IsNaN value -> false
        | None -> true
        | Some b when Metrics.higherIsBetter metric -> value > b.Value + minDelta
        | Some b -> value < b.Value - minDelta

    /// The monitor after an epoch whose figure is `value`, ended at `step` with `parameters` (kept when `keep`),
    /// and whether the epoch is the new best.
    let observe (metric: Metric) (minDelta: float) (keep: bool) (epoch: int) (step: int64) (parameters: NamedTensors) (value: float) (m: MonitorState) : MonitorState * bool =
        if improves metric minDelta m.Best value then
            { m with Best = Some { Epoch = epoch; Step = step; Value = value }; BestParameters = (if keep then Some parameters else None); EpochsSinceBest = 0 }, true
        else { m with EpochsSinceBest = m.EpochsSinceBest + 1 }, false
