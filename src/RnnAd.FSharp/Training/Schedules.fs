namespace RnnAd.FSharp

open System

/// ReduceOnPlateau's settings, PyTorch's `ReduceLROnPlateau` (its defaults below): after more than `Patience`
/// epochs without improvement of the monitored figure (`TrainingOptions.Monitor`), the rate is multiplied by
/// `Factor`, never below `MinLr`, and `Cooldown` epochs pass before epochs count again.
type PlateauOptions =
    { /// The factor the rate is multiplied by on a plateau (0.1).
      Factor: float
      /// Epochs without improvement tolerated; one more reduces the rate (10).
      Patience: int
      /// How much better a figure must be to count as an improvement (1e-4).
      Threshold: float
      /// Whether `Threshold` is relative (best · (1 ∓ Threshold), PyTorch's 'rel', the default) or absolute
      /// (best ∓ Threshold, 'abs').
      RelativeThreshold: bool
      /// Epochs after a reduction during which no epoch counts as bad (0).
      Cooldown: int
      /// The lowest rate a reduction reaches (0).
      MinLr: float
      /// A reduction smaller than this is not made (1e-8).
      Epsilon: float }

    /// PyTorch's defaults.
    static member Default =
        { Factor = 0.1; Patience = 10; Threshold = 1e-4; RelativeThreshold = true; Cooldown = 0; MinLr = 0.0; Epsilon = 1e-8 }

/// What ReduceOnPlateau remembers from epoch to epoch (saved in training checkpoints, so a resumed run goes on
/// with the same rate).
type PlateauState =
    { /// The rate now.
      Rate: float
      /// The best value of the monitored figure so far (±∞ before the first epoch).
      Best: float
      /// Epochs in a row without improvement.
      BadEpochs: int
      /// Epochs of cooldown left.
      CooldownLeft: int }

/// Learning-rate schedules, as functions of the number of updates already taken: every length below counts
/// optimizer updates (with truncated BPTT a per-step model makes one per chunk, several per batch). Each is the
/// PyTorch scheduler named beside it, stepped once per update; `Schedules.rate` says what each does past its end.
[<RequireQualifiedAccess>]
type Schedule =
    /// The same rate throughout.
    | Constant of lr: float
    /// lr · gamma^⌊step / every⌋ (`StepLR`).
    | Step of lr: float * every: int * gamma: float
    /// lr · gamma^step (`ExponentialLR`).
    | Exponential of lr: float * gamma: float
    /// Cosine annealing from lr to minLr over `total` updates: minLr + (lr − minLr)(1 + cos(π·step/total))/2
    /// (`CosineAnnealingLR`, whose formula goes on past `total`: the rate climbs back to lr over the next
    /// `total` updates, and so on).
    | Cosine of lr: float * total: int * minLr: float
    /// Cosine annealing restarted from lr after `period` updates, each period `periodFactor` times the one before
    /// (`CosineAnnealingWarmRestarts`, T_0 = period, T_mult = periodFactor).
    | CosineWarmRestarts of lr: float * period: int * periodFactor: int * minLr: float
    /// One cycle over `total` updates (`OneCycleLR`, cosine annealing, momentum not cycled): from maxLr /
    /// divFactor up to maxLr over the first pctStart of the updates, then down to maxLr / divFactor /
    /// finalDivFactor; held there past `total` (where PyTorch raises).
    | OneCycle of maxLr: float * total: int * pctStart: float * divFactor: float * finalDivFactor: float
    /// Starts at lr and multiplies it by a factor whenever the monitored figure stops improving for a number of
    /// epochs (`ReduceLROnPlateau`); the trainer keeps its state.
    | ReduceOnPlateau of lr: float * options: PlateauOptions
    /// A linear warm-up: over the first `steps` updates the rate climbs from startFactor times `after`'s first
    /// rate to that rate; then `after` runs as if it had started there (PyTorch's `SequentialLR` of
    /// `LinearLR(start_factor, total_iters=steps)` and `after`, milestone `steps`).
    | Warmup of steps: int * startFactor: float * after: Schedule

/// Evaluation and checking of schedules.
[<RequireQualifiedAccess>]
module Schedules =

    /// Checks a schedule's parameters, naming the one at fault.
    let rec validate (schedule: Schedule) : unit =
        let rate name (v: float) =
            if not (v >= 0.0) || Double.IsInfinity v then invalidArg name (sprintf "%s must be finite and non-negative, got %g" name v)
        let positive name (v: int) = if v <= 0 then invalidArg name (sprintf "%s must be positive, got %d" name v)
        let above name (low: float) (v: float) =
            if not (v > low) || Double.IsInfinity v then invalidArg name (sprintf "%s must be a finite number above %g, got %g" name low v)
        match schedule with
        | Schedule.Constant lr -> rate "lr" lr
        | Schedule.Step (lr, every, gamma) ->
            rate "lr" lr
            positive "every" every
            rate "gamma" gamma
        | Schedule.Exponential (lr, gamma) ->
            rate "lr" lr
            rate "gamma" gamma
        | Schedule.Cosine (lr, total, minLr) ->
            rate "lr" lr
            rate "minLr" minLr
            positive "total" total
        | Schedule.CosineWarmRestarts (lr, period, periodFactor, minLr) ->
            rate "lr" lr
            rate "minLr" minLr
            positive "period" period
            positive "periodFactor" periodFactor
        | Schedule.OneCycle (maxLr, total, pctStart, divFactor, finalDivFactor) ->
            rate "maxLr" maxLr
            positive "total" total
            above "divFactor" 0.0 divFactor
            above "finalDivFactor" 0.0 finalDivFactor
            // Both phases need at least one update: 1 < pctStart · total < total.
            if not (pctStart > 0.0 && pctStart < 1.0) || not (pctStart * float total > 1.0) || not (pctStart * float total < float total - 1.0) then
                invalidArg "pctStart"
                    (sprintf "pctStart must leave each phase of the %d updates at least one update (1 < pctStart·total < total − 1), got %g" total pctStart)
        | Schedule.ReduceOnPlateau (lr, o) ->
            rate "lr" lr
            if not (o.Factor >= 0.0 && o.Factor < 1.0) then invalidArg "Factor" (sprintf "Factor must be in [0, 1), got %g" o.Factor)
            if o.Patience < 0 then invalidArg "Patience" (sprintf "Patience must be 0 or more, got %d" o.Patience)
            rate "Threshold" o.Threshold
            if o.Cooldown < 0 then invalidArg "Cooldown" (sprintf "Cooldown must be 0 or more, got %d" o.Cooldown)
            rate "MinLr" o.MinLr
            rate "Epsilon" o.Epsilon
        | Schedule.Warmup (steps, startFactor, after) ->
            positive "steps" steps
            if not (startFactor > 0.0 && startFactor <= 1.0) then
                invalidArg "startFactor" (sprintf "startFactor must be in (0, 1], got %g" startFactor)
            match after with
            | Schedule.Warmup _ -> invalidArg "after" "a warm-up cannot be followed by another warm-up"
            | _ -> validate after

    /// The ReduceOnPlateau inside a schedule (directly or after a warm-up), if any.
    let rec plateau (schedule: Schedule) : (float * PlateauOptions) option =
        match schedule with
        | Schedule.ReduceOnPlateau (lr, o) -> Some(lr, o)
        | Schedule.Warmup (_, _, after) -> plateau after
        | _ -> None

    /// The annealing of one cycle phase: from `start` at pct 0 to `stop` at pct 1 along half a cosine.
    let private anneal (start: float) (stop: float) (pct: float) = stop + (start - stop) / 2.0 * (cos (Math.PI * pct) + 1.0)

    /// The learning rate for the update that follows `step` earlier ones, with ReduceOnPlateau at the rate its
    /// state gives (None: its starting rate). Past a schedule's end: Cosine follows its formula (back up, as
    /// PyTorch's); OneCycle holds its final rate; Step, Exponential, CosineWarmRestarts and ReduceOnPlateau have
    /// no end.
    let rec rateWith (plateauState: PlateauState option) (schedule: Schedule) (step: int64) : float =
        match schedule with
        | Schedule.Constant lr -> lr
        | Schedule.Step (lr, every, gamma) -> lr * Math.Pow(gamma, float (step / int64 every))
        | Schedule.Exponential (lr, gamma) -> lr * Math.Pow(gamma, float step)
        | Schedule.Cosine (lr, total, minLr) -> minLr + (lr - minLr) * (1.0 + cos (Math.PI * float step / float total)) / 2.0
        | Schedule.CosineWarmRestarts (lr, period, periodFactor, minLr) ->
            // The position in the current period, found as PyTorch's scheduler walks: a period ends, the next
            // is periodFactor times as long. With a factor of 1 the walk is a remainder.
            let mutable t = step
            let mutable length = int64 period
            if periodFactor = 1 then t <- step % length
            else
                while t >= length do
                    t <- t - length
                    length <- length * int64 periodFactor
            minLr + (lr - minLr) * (1.0 + cos (Math.PI * float t / float length)) / 2.0
        | Schedule.OneCycle (maxLr, total, pctStart, divFactor, finalDivFactor) ->
            let initial = maxLr / divFactor
            let final = initial / finalDivFactor
            // PyTorch's phase ends, as floats: the peak at update pctStart·total − 1, the end at total − 1.
            let peak = pctStart * float total - 1.0
            let last = float total - 1.0
            let s = float step
            if s <= peak then anneal initial maxLr (s / peak)
            elif s <= last then anneal maxLr final ((s - peak) / (last - peak))
            else final
        | Schedule.ReduceOnPlateau (lr, _) ->
            match plateauState with
            | Some p -> p.Rate
            | None -> lr
        | Schedule.Warmup (steps, startFactor, after) ->
            if step < int64 steps then
                rateWith plateauState after 0L * (startFactor + (1.0 - startFactor) * float step / float steps)
            else rateWith plateauState after (step - int64 steps)

    /// The learning rate for the update that follows `step` earlier ones (ReduceOnPlateau at its starting rate).
    let rate (schedule: Schedule) (step: int64) : float = rateWith None schedule step

    /// ReduceOnPlateau's state before the first epoch, for a figure where higher (or lower) is better.
    let plateauStart (lr: float) (higherIsBetter: bool) : PlateauState =
        { Rate = lr; Best = (if higherIsBetter then Double.NegativeInfinity else Double.PositiveInfinity); BadEpochs = 0; CooldownLeft = 0 }

    /// ReduceOnPlateau's state after an epoch whose monitored figure is `value`, exactly as PyTorch's
    /// `ReduceLROnPlateau.step(value)` (a NaN is never an improvement).
    let plateauStep (o: PlateauOptions) (higherIsBetter: bool) (state: PlateauState) (value: float) : PlateauState =
        let better =
            match higherIsBetter, o.RelativeThreshold with
            | false, true -> value < state.Best * (1.0 - o.Threshold)
            | false, false -> value < state.Best - o.Threshold
            | true, true -> value > state.Best * (1.0 + o.Threshold)
            | true, false -> value > state.Best + o.Threshold
        let best, bad = if better then value, 0 else state.Best, state.BadEpochs + 1
        let cooldown, bad = if state.CooldownLeft > 0 then state.CooldownLeft - 1, 0 else state.CooldownLeft, bad
        if bad > o.Patience then
            let reduced = max (state.Rate * o.Factor) o.MinLr
            { Rate = (if state.Rate - reduced > o.Epsilon then reduced else state.Rate); Best = best; BadEpochs = 0; CooldownLeft = o.Cooldown }
        else { state with Best = best; BadEpochs = bad; CooldownLeft = cooldown }
