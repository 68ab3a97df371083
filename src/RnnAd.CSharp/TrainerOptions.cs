using RnnAd.FSharp;
using Microsoft.FSharp.Core;

namespace RnnAd;

/// <summary>The optimizer a trainer uses (PyTorch's update rules).</summary>
public enum OptimizerType
{
    /// <summary>Stochastic gradient descent, optionally with momentum (and Nesterov).</summary>
    Sgd,
    /// <summary>Adam with bias correction; weight decay is an L2 term.</summary>
    Adam,
    /// <summary>Adam with decoupled weight decay.</summary>
    AdamW,
    /// <summary>RMSprop.</summary>
    RmsProp,
}

/// <summary>
/// How the learning rate changes over training. Every length counts optimizer updates (with <see cref="TrainerOptions.BpttWindow"/>
/// a per-step model makes one per window of each batch), and a length that spans the run spans its planned updates: every
/// epoch's, or those of <see cref="TrainerOptions.MaxSteps"/> when fewer. Each follows the PyTorch scheduler named beside it.
/// </summary>
public enum LearningRateSchedule
{
    /// <summary>The same rate throughout.</summary>
    Constant,
    /// <summary>Multiplied by <see cref="TrainerOptions.ScheduleGamma"/> every <see cref="TrainerOptions.ScheduleStepSize"/> updates (<c>StepLR</c>).</summary>
    Step,
    /// <summary>
    /// Cosine annealing to <see cref="TrainerOptions.MinimumLearningRate"/> over the run's updates (<c>CosineAnnealingLR</c>,
    /// whose formula climbs back up past its length; a run never goes past it).
    /// </summary>
    Cosine,
    /// <summary>Multiplied by <see cref="TrainerOptions.ExponentialDecay"/> after every update (<c>ExponentialLR</c>).</summary>
    Exponential,
    /// <summary>
    /// Cosine annealing to <see cref="TrainerOptions.MinimumLearningRate"/>, restarted every <see cref="TrainerOptions.RestartPeriod"/>
    /// updates, each period <see cref="TrainerOptions.RestartPeriodFactor"/> times the last (<c>CosineAnnealingWarmRestarts</c>).
    /// </summary>
    CosineWarmRestarts,
    /// <summary>
    /// One cycle over the run's updates (<c>OneCycleLR</c> with cosine annealing, momentum not cycled): from
    /// <see cref="TrainerOptions.LearningRate"/> / <see cref="TrainerOptions.OneCycleDivFactor"/> up to <see cref="TrainerOptions.LearningRate"/>
    /// over the first <see cref="TrainerOptions.OneCycleWarmupFraction"/> of them, then down to that start divided by
    /// <see cref="TrainerOptions.OneCycleFinalDivFactor"/>.
    /// </summary>
    OneCycle,
    /// <summary>
    /// Multiplied by <see cref="TrainerOptions.PlateauFactor"/> after more than <see cref="TrainerOptions.PlateauPatience"/> epochs
    /// without improvement of the <see cref="TrainerOptions.Monitor"/>ed figure, never below <see cref="TrainerOptions.MinimumLearningRate"/>
    /// (<c>ReduceLROnPlateau</c>).
    /// </summary>
    ReduceOnPlateau,
}

/// <summary>A figure of <see cref="EvaluationResult"/> that training can monitor: to pick the best epoch, stop early, reduce the rate.</summary>
public enum MonitoredMetric
{
    /// <summary>The mean loss (lower is better).</summary>
    Loss,
    /// <summary>Accuracy (higher is better; classifiers).</summary>
    Accuracy,
    /// <summary>Perplexity (lower is better; cross-entropy).</summary>
    Perplexity,
    /// <summary>Bits per character (lower is better; cross-entropy).</summary>
    BitsPerCharacter,
    /// <summary>Macro-averaged precision (higher is better; classifiers).</summary>
    MacroPrecision,
    /// <summary>Macro-averaged recall (higher is better; classifiers).</summary>
    MacroRecall,
    /// <summary>Macro-averaged F1 (higher is better; classifiers).</summary>
    MacroF1,
    /// <summary>Root mean squared error (lower is better; regression).</summary>
    Rmse,
    /// <summary>Mean absolute error (lower is better; regression).</summary>
    Mae,
    /// <summary>Coefficient of determination (higher is better; regression).</summary>
    R2,
}

/// <summary>
/// How to train. Every property has a sensible default; <see cref="Validate"/> names any invalid one (the
/// <see cref="ArgumentException.ParamName"/> is the property's name). A step is one batch; an update one optimizer update.
/// </summary>
public sealed record TrainerOptions
{
    /// <summary>The optimizer.</summary>
    public OptimizerType Optimizer { get; init; } = OptimizerType.Adam;

    /// <summary>The (initial) learning rate; the peak rate of <see cref="LearningRateSchedule.OneCycle"/>.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Momentum (SGD and RMSprop).</summary>
    public double Momentum { get; init; }

    /// <summary>Nesterov momentum (SGD).</summary>
    public bool Nesterov { get; init; }

    /// <summary>Weight decay; null takes the optimizer's default (0.01 for AdamW, 0 otherwise).</summary>
    public double? WeightDecay { get; init; }

    /// <summary>Adam's β₁.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>Adam's β₂.</summary>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>The ε of Adam and RMSprop.</summary>
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>The learning-rate schedule.</summary>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Constant;

    /// <summary>Updates between decays of the Step schedule.</summary>
    public int ScheduleStepSize { get; init; } = 1000;

    /// <summary>The Step schedule's factor.</summary>
    public double ScheduleGamma { get; init; } = 0.1;

    /// <summary>The Exponential schedule's factor per update.</summary>
    public double ExponentialDecay { get; init; } = 0.999;

    /// <summary>The lowest rate of the Cosine, CosineWarmRestarts and ReduceOnPlateau schedules.</summary>
    public double MinimumLearningRate { get; init; }

    /// <summary>Updates in the first period of CosineWarmRestarts.</summary>
    public int RestartPeriod { get; init; } = 1000;

    /// <summary>How many times longer each period of CosineWarmRestarts is than the one before (1: all equal).</summary>
    public int RestartPeriodFactor { get; init; } = 1;

    /// <summary>The fraction of the run's updates over which OneCycle climbs to its peak.</summary>
    public double OneCycleWarmupFraction { get; init; } = 0.3;

    /// <summary>OneCycle starts at <see cref="LearningRate"/> divided by this.</summary>
    public double OneCycleDivFactor { get; init; } = 25;

    /// <summary>OneCycle ends at its starting rate divided by this.</summary>
    public double OneCycleFinalDivFactor { get; init; } = 1e4;

    /// <summary>ReduceOnPlateau's factor.</summary>
    public double PlateauFactor { get; init; } = 0.1;

    /// <summary>Epochs without improvement ReduceOnPlateau tolerates; one more reduces the rate.</summary>
    public int PlateauPatience { get; init; } = 10;

    /// <summary>How much better (relatively) a figure must be for ReduceOnPlateau to count an improvement.</summary>
    public double PlateauThreshold { get; init; } = 1e-4;

    /// <summary>Epochs after a reduction during which ReduceOnPlateau counts no epoch as bad.</summary>
    public int PlateauCooldown { get; init; }

    /// <summary>
    /// Updates of linear warm-up before the schedule: the rate climbs from <see cref="WarmupStartFactor"/> times the schedule's
    /// first rate to that rate, then the schedule runs over the remaining updates (PyTorch's <c>SequentialLR</c> of
    /// <c>LinearLR</c> and the schedule). 0 for none.
    /// </summary>
    public int WarmupSteps { get; init; }

    /// <summary>The fraction of the rate the warm-up starts at (PyTorch's <c>LinearLR</c> default, ⅓).</summary>
    public double WarmupStartFactor { get; init; } = 1.0 / 3;

    /// <summary>Passes over the training data.</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>Stop once this many steps (batches) are done in all, resumed runs counting the steps before them; null for no limit.</summary>
    public long? MaxSteps { get; init; }

    /// <summary>Stop before the first step that would start this long after <c>Fit</c> began (a resumed run gets it afresh); null for no limit.</summary>
    public TimeSpan? TimeBudget { get; init; }

    /// <summary>Examples per batch.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Shuffle examples every epoch (seeded from <see cref="Seed"/> and the epoch).</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>Truncated BPTT window in steps; null for full backpropagation through time.</summary>
    public int? BpttWindow { get; init; }

    /// <summary>Clip the gradients' global norm to this value before each update.</summary>
    public double? ClipNorm { get; init; }

    /// <summary>Clamp every gradient entry into ±this value before each update.</summary>
    public double? ClipValue { get; init; }

    /// <summary>The seed of shuffling and dropout: the same seed gives the same model, bit for bit.</summary>
    public int Seed { get; init; }

    /// <summary>
    /// Where to keep a training checkpoint (model and progress; the optimizer state goes beside it as
    /// <c>name.training.&lt;id&gt;.safetensors</c>, so the checkpoint itself loads into PyTorch with <c>strict=True</c>); null for
    /// none. Checked before training starts (its folder must exist and take a new file), and kept with the run's best epoch
    /// beside it as <c>name.best.safetensors</c>. Move or copy a checkpoint together with its state file.
    /// </summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Batches between checkpoints; the last one is always written at the end of training.</summary>
    public int CheckpointInterval { get; init; } = 100;

    /// <summary>
    /// Stop with a <see cref="TrainingDivergedException"/> when a batch's loss exceeds this many times the mean batch
    /// loss of the run so far (a run whose loss climbs by orders of magnitude is lost even while it stays finite);
    /// null checks only that losses and gradients are finite.
    /// </summary>
    public double? RunawayFactor { get; init; } = 1e4;

    /// <summary>
    /// The figure that picks the best epoch, stops early and drives ReduceOnPlateau: of the validation data when some are
    /// given, else of the training batches as they were trained. It must apply to the model (accuracy to a classifier, …).
    /// </summary>
    public MonitoredMetric Monitor { get; init; } = MonitoredMetric.Loss;

    /// <summary>Stop after this many epochs in a row without improvement of the <see cref="Monitor"/>ed figure; null never stops early.</summary>
    public int? EarlyStoppingPatience { get; init; }

    /// <summary>How much better than the best so far the figure must be to count as an improvement (absolute).</summary>
    public double EarlyStoppingMinDelta { get; init; }

    /// <summary>
    /// Return the model of the best epoch by the <see cref="Monitor"/>ed figure instead of the last one
    /// (<see cref="TrainingResult.LastModel"/> keeps the last).
    /// </summary>
    public bool RestoreBestWeights { get; init; }

    /// <summary>Checks every option, throwing an <see cref="ArgumentException"/> whose <see cref="ArgumentException.ParamName"/> is the property at fault.</summary>
    /// <remarks>
    /// What depends on the data (a warm-up longer than the run's updates, a one-cycle too short for its phases) is checked when
    /// training starts, with the same names.
    /// </remarks>
    public void Validate() => ToCore(null);

    private static void Require(bool ok, string name, object? value, string rule)
    {
        if (!ok) throw new ArgumentException($"{name} must be {rule}, got {value}.", name);
    }

    private static void Rate(double value, string name) =>
        Require(value >= 0 && double.IsFinite(value), name, value, "a finite number of 0 or more");

    private static void Positive(double? value, string name) =>
        Require(value is null || (value > 0 && double.IsFinite(value.Value)), name, value, "a finite number above 0");

    private void CheckEveryOption()
    {
        Require(Enum.IsDefined(Optimizer), nameof(Optimizer), Optimizer, "one of the OptimizerType values");
        Require(Enum.IsDefined(Schedule), nameof(Schedule), Schedule, "one of the LearningRateSchedule values");
        Require(Enum.IsDefined(Monitor), nameof(Monitor), Monitor, "one of the MonitoredMetric values");
        Rate(LearningRate, nameof(LearningRate));
        Rate(Momentum, nameof(Momentum));
        Require(!Nesterov || (Momentum > 0 && Optimizer == OptimizerType.Sgd), nameof(Nesterov), Nesterov, "used with SGD and a positive Momentum");
        if (WeightDecay is { } decay) Rate(decay, nameof(WeightDecay));
        Require(Beta1 >= 0 && Beta1 < 1, nameof(Beta1), Beta1, "in [0, 1)");
        Require(Beta2 >= 0 && Beta2 < 1, nameof(Beta2), Beta2, "in [0, 1)");
        Rate(Epsilon, nameof(Epsilon));
        Require(ScheduleStepSize > 0, nameof(ScheduleStepSize), ScheduleStepSize, "positive");
        Rate(ScheduleGamma, nameof(ScheduleGamma));
        Rate(ExponentialDecay, nameof(ExponentialDecay));
        Rate(MinimumLearningRate, nameof(MinimumLearningRate));
        Require(RestartPeriod > 0, nameof(RestartPeriod), RestartPeriod, "positive");
        Require(RestartPeriodFactor > 0, nameof(RestartPeriodFactor), RestartPeriodFactor, "positive");
        Require(OneCycleWarmupFraction > 0 && OneCycleWarmupFraction < 1, nameof(OneCycleWarmupFraction), OneCycleWarmupFraction, "in (0, 1)");
        Positive(OneCycleDivFactor, nameof(OneCycleDivFactor));
        Positive(OneCycleFinalDivFactor, nameof(OneCycleFinalDivFactor));
        Require(PlateauFactor >= 0 && PlateauFactor < 1, nameof(PlateauFactor), PlateauFactor, "in [0, 1)");
        Require(PlateauPatience >= 0, nameof(PlateauPatience), PlateauPatience, "0 or more");
        Rate(PlateauThreshold, nameof(PlateauThreshold));
        Require(PlateauCooldown >= 0, nameof(PlateauCooldown), PlateauCooldown, "0 or more");
        Require(WarmupSteps >= 0, nameof(WarmupSteps), WarmupSteps, "0 or more");
        Require(WarmupStartFactor > 0 && WarmupStartFactor <= 1, nameof(WarmupStartFactor), WarmupStartFactor, "in (0, 1]");
        Require(Epochs >= 0, nameof(Epochs), Epochs, "0 or more");
        Require(MaxSteps is null or > 0, nameof(MaxSteps), MaxSteps, "positive");
        Require(TimeBudget is null || TimeBudget > TimeSpan.Zero, nameof(TimeBudget), TimeBudget, "positive");
        Require(BatchSize > 0, nameof(BatchSize), BatchSize, "positive");
        Require(BpttWindow is null or > 0, nameof(BpttWindow), BpttWindow, "positive");
        Positive(ClipNorm, nameof(ClipNorm));
        Positive(ClipValue, nameof(ClipValue));
        Require(CheckpointPath is null || !string.IsNullOrWhiteSpace(CheckpointPath), nameof(CheckpointPath), $"'{CheckpointPath}'", "null or a file path");
        Require(CheckpointInterval > 0, nameof(CheckpointInterval), CheckpointInterval, "positive");
        Require(RunawayFactor is null || (RunawayFactor > 1 && double.IsFinite(RunawayFactor.Value)), nameof(RunawayFactor), RunawayFactor, "a finite number above 1");
        Require(EarlyStoppingPatience is null or >= 1, nameof(EarlyStoppingPatience), EarlyStoppingPatience, "at least 1");
        Require(EarlyStoppingMinDelta >= 0 && double.IsFinite(EarlyStoppingMinDelta), nameof(EarlyStoppingMinDelta), EarlyStoppingMinDelta, "a finite number of 0 or more");
    }

    /// <summary>The run's planned updates: every epoch's, or those of MaxSteps steps when fewer.</summary>
    internal long PlannedUpdates(TrainingPlan plan)
    {
        var all = (long)Epochs * plan.UpdatesPerEpoch;
        if (MaxSteps is not { } steps) return all;
        // The updates of MaxSteps steps, at the epoch's updates per step (rounded up).
        var capped = (long)Math.Ceiling((double)steps * plan.UpdatesPerEpoch / Math.Max(1, plan.BatchesPerEpoch));
        return Math.Min(all, capped);
    }

    private FSharp.Schedule CoreSchedule(TrainingPlan? plan)
    {
        // Lengths that span the run count its planned updates, less the warm-up's; without data (Validate), a length that fits
        // any warm-up and phase stands in for it.
        var planned = plan is { } p ? PlannedUpdates(p) : WarmupSteps + 1_000_000L;
        var span = planned - WarmupSteps;
        var spansRun = Schedule is LearningRateSchedule.Cosine or LearningRateSchedule.OneCycle;
        if (spansRun && WarmupSteps > 0)
            Require(span >= 1, nameof(WarmupSteps), WarmupSteps, $"fewer than the run's {planned} planned updates");
        Require(!spansRun || span <= int.MaxValue, nameof(Epochs), Epochs, $"small enough for the {Schedule} schedule to count its {planned} updates in an int");
        var length = (int)Math.Max(1, span);
        if (Schedule == LearningRateSchedule.OneCycle)
            Require(OneCycleWarmupFraction * length > 1 && OneCycleWarmupFraction * length < length - 1, nameof(OneCycleWarmupFraction), OneCycleWarmupFraction,
                $"a fraction that leaves each phase of the {length} updates at least one update");
        FSharp.Schedule schedule = Schedule switch
        {
            LearningRateSchedule.Constant => FSharp.Schedule.NewConstant(LearningRate),
            LearningRateSchedule.Step => FSharp.Schedule.NewStep(LearningRate, ScheduleStepSize, ScheduleGamma),
            LearningRateSchedule.Cosine => FSharp.Schedule.NewCosine(LearningRate, length, MinimumLearningRate),
            LearningRateSchedule.Exponential => FSharp.Schedule.NewExponential(LearningRate, ExponentialDecay),
            LearningRateSchedule.CosineWarmRestarts => FSharp.Schedule.NewCosineWarmRestarts(LearningRate, RestartPeriod, RestartPeriodFactor, MinimumLearningRate),
            LearningRateSchedule.OneCycle => FSharp.Schedule.NewOneCycle(LearningRate, length, OneCycleWarmupFraction, OneCycleDivFactor, OneCycleFinalDivFactor),
            _ => FSharp.Schedule.NewReduceOnPlateau(LearningRate,
                new PlateauOptions(PlateauFactor, PlateauPatience, PlateauThreshold, true, PlateauCooldown, MinimumLearningRate, 1e-8)),
        };
        return WarmupSteps > 0 ? FSharp.Schedule.NewWarmup(WarmupSteps, WarmupStartFactor, schedule) : schedule;
    }

    internal TrainingOptions ToCore(TrainingPlan? plan)
    {
        CheckEveryOption();
        var decay = WeightDecay ?? (Optimizer == OptimizerType.AdamW ? 0.01 : 0.0);
        var adam = new AdamOptions(Beta1, Beta2, Epsilon, decay);
        var optimizer = Optimizer switch
        {
            OptimizerType.Sgd => FSharp.Optimizer.NewSgd(new SgdOptions(Momentum, 0.0, Nesterov, decay)),
            OptimizerType.Adam => FSharp.Optimizer.NewAdam(adam),
            OptimizerType.AdamW => FSharp.Optimizer.NewAdamW(adam),
            _ => FSharp.Optimizer.NewRmsProp(new RmsPropOptions(0.99, Epsilon, Momentum, false, decay)),
        };
        var core = new TrainingOptions(
            optimizer, CoreSchedule(plan), Epochs,
            BpttWindow is { } k ? FSharpOption<int>.Some(k) : null,
            ClipNorm is { } c ? FSharpOption<double>.Some(c) : null,
            ClipValue is { } v ? FSharpOption<double>.Some(v) : null,
            Seed,
            CheckpointPath is null ? null : FSharpOption<int>.Some(CheckpointInterval),
            RunawayFactor is { } r ? FSharpOption<double>.Some(r) : null,
            MaxSteps is { } m ? FSharpOption<long>.Some(m) : null,
            TimeBudget is { } t ? FSharpOption<TimeSpan>.Some(t) : null,
            CoreMetric(Monitor),
            EarlyStoppingPatience is { } p ? FSharpOption<EarlyStopping>.Some(new EarlyStopping(p, EarlyStoppingMinDelta)) : null,
            RestoreBestWeights);
        // Everything was checked above under the C# names; the core's own check stays as a net, its names mapped.
        OptionNames.Translate(() => FSharp.Training.validate(core), CoreNames);
        return core;
    }

    /// <summary>The core's names of the options it checks, and the properties that set them.</summary>
    private static readonly IReadOnlyDictionary<string, string> CoreNames = new Dictionary<string, string>
    {
        ["lr"] = nameof(LearningRate), ["maxLr"] = nameof(LearningRate), ["every"] = nameof(ScheduleStepSize), ["gamma"] = nameof(ScheduleGamma),
        ["minLr"] = nameof(MinimumLearningRate), ["total"] = nameof(Epochs), ["period"] = nameof(RestartPeriod),
        ["periodFactor"] = nameof(RestartPeriodFactor), ["pctStart"] = nameof(OneCycleWarmupFraction), ["divFactor"] = nameof(OneCycleDivFactor),
        ["finalDivFactor"] = nameof(OneCycleFinalDivFactor), ["Factor"] = nameof(PlateauFactor), ["Threshold"] = nameof(PlateauThreshold),
        ["Cooldown"] = nameof(PlateauCooldown), ["MinLr"] = nameof(MinimumLearningRate), ["steps"] = nameof(WarmupSteps),
        ["startFactor"] = nameof(WarmupStartFactor), ["TruncateEvery"] = nameof(BpttWindow), ["CheckpointEvery"] = nameof(CheckpointInterval),
        ["MinDelta"] = nameof(EarlyStoppingMinDelta), ["Patience"] = nameof(EarlyStoppingPatience), ["Alpha"] = nameof(Optimizer),
        ["Dampening"] = nameof(Momentum),
    };

    internal static Metric CoreMetric(MonitoredMetric metric) => metric switch
    {
        MonitoredMetric.Loss => Metric.Loss,
        MonitoredMetric.Accuracy => Metric.Accuracy,
        MonitoredMetric.Perplexity => Metric.Perplexity,
        MonitoredMetric.BitsPerCharacter => Metric.BitsPerCharacter,
        MonitoredMetric.MacroPrecision => Metric.MacroPrecision,
        MonitoredMetric.MacroRecall => Metric.MacroRecall,
        MonitoredMetric.MacroF1 => Metric.MacroF1,
        MonitoredMetric.Rmse => Metric.Rmse,
        MonitoredMetric.Mae => Metric.Mae,
        _ => Metric.R2,
    };
}

/// <summary>What a run's schedule lengths are counted from: the steps and updates of one epoch.</summary>
internal readonly record struct TrainingPlan(int BatchesPerEpoch, long UpdatesPerEpoch);

/// <summary>Errors of the F# core under the C# names of what the caller set.</summary>
internal static class OptionNames
{
    /// <summary>
    /// Runs <paramref name="action"/>; an <see cref="ArgumentException"/> that names a core field of <paramref name="names"/> (as its
    /// <see cref="ArgumentException.ParamName"/> or in its message) is thrown again with the C# names in both.
    /// </summary>
    public static T Translate<T>(Func<T> action, IReadOnlyDictionary<string, string> names)
    {
        try
        {
            return action();
        }
        catch (ArgumentException e) when (e.GetType() == typeof(ArgumentException) && Mentions(e, names))
        {
            var message = e.ParamName is { } p ? e.Message.Replace($" (Parameter '{p}')", "") : e.Message;
            foreach (var (core, property) in names)
                message = System.Text.RegularExpressions.Regex.Replace(message, $@"\b{System.Text.RegularExpressions.Regex.Escape(core)}\b", property);
            throw new ArgumentException(message, e.ParamName is { } name && names.TryGetValue(name, out var mapped) ? mapped : e.ParamName, e);
        }
    }

    /// <inheritdoc cref="Translate{T}"/>
    public static void Translate(Action action, IReadOnlyDictionary<string, string> names) => Translate<bool>(() => { action(); return true; }, names);

    private static bool Mentions(ArgumentException e, IReadOnlyDictionary<string, string> names) =>
        (e.ParamName is { } p && names.ContainsKey(p))
        || names.Keys.Any(core => System.Text.RegularExpressions.Regex.IsMatch(e.Message, $@"\b{System.Text.RegularExpressions.Regex.Escape(core)}\b"));
}
