using System.Globalization;
using System.Text.Json;

namespace RnnAd;

/// <summary>
/// What a training run depends on: every option that shapes its continuation, under its <see cref="TrainerOptions"/> name, and a
/// SHA-256 digest of the training (and validation) data. Checkpoints store it under the metadata key <c>rnnad.trainer</c>, so that
/// <see cref="Trainer.Resume"/> refuses a change, naming it, instead of silently continuing another run. The limits (epochs, steps,
/// time), the checkpoint's path and interval, the runaway factor and <see cref="TrainerOptions.RestoreBestWeights"/> may change:
/// they decide when a run stops or what it returns, not the bits of its updates. The epochs and steps count too when a schedule's
/// length is sized by them (Cosine, OneCycle).
/// </summary>
internal static class RunFingerprint
{
    public const string MetadataKey = "rnnad.trainer";

    private static string Number(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>The fingerprint of a run with these options on these data, as property (or parameter) name → value.</summary>
    public static IReadOnlyDictionary<string, string> Of(TrainerOptions o, SequenceDataset training, SequenceDataset? validation)
    {
        var f = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            [nameof(o.Optimizer)] = o.Optimizer.ToString(),
            [nameof(o.LearningRate)] = Number(o.LearningRate),
            [nameof(o.WeightDecay)] = Number(o.WeightDecay ?? (o.Optimizer == OptimizerType.AdamW ? 0.01 : 0.0)),
            [nameof(o.Schedule)] = o.Schedule.ToString(),
            [nameof(o.WarmupSteps)] = o.WarmupSteps.ToString(CultureInfo.InvariantCulture),
            [nameof(o.BatchSize)] = o.BatchSize.ToString(CultureInfo.InvariantCulture),
            [nameof(o.Shuffle)] = o.Shuffle.ToString(),
            [nameof(o.BpttWindow)] = o.BpttWindow?.ToString(CultureInfo.InvariantCulture) ?? "none",
            [nameof(o.ClipNorm)] = o.ClipNorm is { } n ? Number(n) : "none",
            [nameof(o.ClipValue)] = o.ClipValue is { } v ? Number(v) : "none",
            [nameof(o.Seed)] = o.Seed.ToString(CultureInfo.InvariantCulture),
            [nameof(o.Monitor)] = o.Monitor.ToString(),
            [nameof(o.EarlyStoppingPatience)] = o.EarlyStoppingPatience?.ToString(CultureInfo.InvariantCulture) ?? "none",
            [nameof(o.EarlyStoppingMinDelta)] = Number(o.EarlyStoppingMinDelta),
            ["training"] = training.Digest(),
            ["validation"] = validation?.Digest() ?? "none",
        };
        // Only the optimizer's own hyper-parameters: changing Adam's β₁ under SGD changes nothing.
        switch (o.Optimizer)
        {
            case OptimizerType.Sgd:
                f[nameof(o.Momentum)] = Number(o.Momentum);
                f[nameof(o.Nesterov)] = o.Nesterov.ToString();
                break;
            case OptimizerType.Adam or OptimizerType.AdamW:
                f[nameof(o.Beta1)] = Number(o.Beta1);
                f[nameof(o.Beta2)] = Number(o.Beta2);
                f[nameof(o.Epsilon)] = Number(o.Epsilon);
                break;
            default:
                f[nameof(o.Momentum)] = Number(o.Momentum);
                f[nameof(o.Epsilon)] = Number(o.Epsilon);
                break;
        }
        if (o.WarmupSteps > 0) f[nameof(o.WarmupStartFactor)] = Number(o.WarmupStartFactor);
        switch (o.Schedule)
        {
            case LearningRateSchedule.Step:
                f[nameof(o.ScheduleStepSize)] = o.ScheduleStepSize.ToString(CultureInfo.InvariantCulture);
                f[nameof(o.ScheduleGamma)] = Number(o.ScheduleGamma);
                break;
            case LearningRateSchedule.Exponential:
                f[nameof(o.ExponentialDecay)] = Number(o.ExponentialDecay);
                break;
            case LearningRateSchedule.Cosine:
                f[nameof(o.MinimumLearningRate)] = Number(o.MinimumLearningRate);
                break;
            case LearningRateSchedule.CosineWarmRestarts:
                f[nameof(o.RestartPeriod)] = o.RestartPeriod.ToString(CultureInfo.InvariantCulture);
                f[nameof(o.RestartPeriodFactor)] = o.RestartPeriodFactor.ToString(CultureInfo.InvariantCulture);
                f[nameof(o.MinimumLearningRate)] = Number(o.MinimumLearningRate);
                break;
            case LearningRateSchedule.OneCycle:
                f[nameof(o.OneCycleWarmupFraction)] = Number(o.OneCycleWarmupFraction);
                f[nameof(o.OneCycleDivFactor)] = Number(o.OneCycleDivFactor);
                f[nameof(o.OneCycleFinalDivFactor)] = Number(o.OneCycleFinalDivFactor);
                break;
            case LearningRateSchedule.ReduceOnPlateau:
                f[nameof(o.PlateauFactor)] = Number(o.PlateauFactor);
                f[nameof(o.PlateauPatience)] = o.PlateauPatience.ToString(CultureInfo.InvariantCulture);
                f[nameof(o.PlateauThreshold)] = Number(o.PlateauThreshold);
                f[nameof(o.PlateauCooldown)] = o.PlateauCooldown.ToString(CultureInfo.InvariantCulture);
                f[nameof(o.MinimumLearningRate)] = Number(o.MinimumLearningRate);
                break;
        }
        // A schedule sized by the run's length changes with it.
        if (o.Schedule is LearningRateSchedule.Cosine or LearningRateSchedule.OneCycle)
        {
            f[nameof(o.Epochs)] = o.Epochs.ToString(CultureInfo.InvariantCulture);
            f[nameof(o.MaxSteps)] = o.MaxSteps?.ToString(CultureInfo.InvariantCulture) ?? "none";
        }
        return f;
    }

    /// <summary>The metadata entry that stores a fingerprint.</summary>
    public static (string Key, string Value) ToMetadata(IReadOnlyDictionary<string, string> fingerprint) =>
        (MetadataKey, JsonSerializer.Serialize(fingerprint));

    /// <summary>
    /// Refuses a resume whose fingerprint differs from the one the checkpoint at <paramref name="path"/> stores, naming the first field
    /// that differs in the exception's <see cref="ArgumentException.ParamName"/> and message. A checkpoint without one (written before
    /// fingerprints were stored) resumes on trust.
    /// </summary>
    public static void RequireSame(string path, Microsoft.FSharp.Collections.FSharpMap<string, string> metadata, IReadOnlyDictionary<string, string> now)
    {
        if (!metadata.TryGetValue(MetadataKey, out var stored)) return;
        Dictionary<string, string> before;
        try
        {
            before = JsonSerializer.Deserialize<Dictionary<string, string>>(stored) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"checkpoint '{path}': metadata key '{MetadataKey}' is not a JSON object of strings: {e.Message}", e);
        }
        // Fields both sides have come first: a changed Schedule is named before the options only one of the schedules reads.
        var names = now.Keys.Where(before.ContainsKey).Order(StringComparer.Ordinal)
            .Concat(now.Keys.Union(before.Keys, StringComparer.Ordinal).Where(n => !(now.ContainsKey(n) && before.ContainsKey(n))).Order(StringComparer.Ordinal));
        foreach (var name in names)
        {
            var was = before.GetValueOrDefault(name, "not set");
            var is_ = now.TryGetValue(name, out var value) ? value : "not set";
            if (was == is_) continue;
            var what = name is "training" or "validation"
                ? $"the {name} data changed since the run started (SHA-256 {was}, now {is_}); resume with the data the run trained on"
                : $"{name} is {is_}, but the run used {was}; resume with the options the run started with";
            throw new ArgumentException($"Resume from '{path}': {what}.", name);
        }
    }
}
