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

/// <summary>How the learning rate changes over training.</summary>
public enum LearningRateSchedule
{
    /// <summary>The same rate throughout.</summary>
    Constant,
    /// <summary>Multiplied by <see cref="TrainerOptions.ScheduleGamma"/> every <see cref="TrainerOptions.ScheduleStepSize"/> updates.</summary>
    Step,
    /// <summary>Cosine annealing to <see cref="TrainerOptions.MinimumLearningRate"/> over all updates.</summary>
    Cosine,
}

/// <summary>How to train. Every property has a sensible default; <see cref="Validate"/> names any invalid one.</summary>
public sealed record TrainerOptions
{
    /// <summary>The optimizer.</summary>
    public OptimizerType Optimizer { get; init; } = OptimizerType.Adam;

    /// <summary>The (initial) learning rate.</summary>
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

    /// <summary>The Cosine schedule's final learning rate.</summary>
    public double MinimumLearningRate { get; init; }

    /// <summary>Passes over the training data.</summary>
    public int Epochs { get; init; } = 10;

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

    /// <summary>Where to keep a training checkpoint (model, optimizer state and progress); null for none.</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Batches between checkpoints; the last one is always written at the end of training.</summary>
    public int CheckpointInterval { get; init; } = 100;

    /// <summary>
    /// Stop with a <see cref="TrainingDivergedException"/> when a batch's loss exceeds this many times the mean batch
    /// loss of the run so far (a run whose loss climbs by orders of magnitude is lost even while it stays finite);
    /// null checks only that losses and gradients are finite.
    /// </summary>
    public double? RunawayFactor { get; init; } = 1e4;

    /// <summary>Checks every option, throwing an <see cref="ArgumentException"/> naming the one at fault.</summary>
    public void Validate() => FSharp.Trainer.validate(ToCore(batches: 1));

    internal TrainingOptions ToCore(int batches)
    {
        static void Require(bool ok, string name, object? value)
        {
            if (!ok) throw new ArgumentException($"{name} is out of range: {value}.", name);
        }
        Require(Enum.IsDefined(Optimizer), nameof(Optimizer), Optimizer);
        Require(Enum.IsDefined(Schedule), nameof(Schedule), Schedule);
        Require(LearningRate >= 0 && double.IsFinite(LearningRate), nameof(LearningRate), LearningRate);
        Require(BatchSize > 0, nameof(BatchSize), BatchSize);
        Require(Epochs >= 0, nameof(Epochs), Epochs);
        Require(CheckpointInterval > 0, nameof(CheckpointInterval), CheckpointInterval);
        Require(BpttWindow is null or > 0, nameof(BpttWindow), BpttWindow);
        var decay = WeightDecay ?? (Optimizer == OptimizerType.AdamW ? 0.01 : 0.0);
        var adam = new AdamOptions(Beta1, Beta2, Epsilon, decay);
        var optimizer = Optimizer switch
        {
            OptimizerType.Sgd => FSharp.Optimizer.NewSgd(new SgdOptions(Momentum, 0.0, Nesterov, decay)),
            OptimizerType.Adam => FSharp.Optimizer.NewAdam(adam),
            OptimizerType.AdamW => FSharp.Optimizer.NewAdamW(adam),
            _ => FSharp.Optimizer.NewRmsProp(new RmsPropOptions(0.99, Epsilon, Momentum, false, decay)),
        };
        var schedule = Schedule switch
        {
            LearningRateSchedule.Constant => FSharp.Schedule.NewConstant(LearningRate),
            LearningRateSchedule.Step => FSharp.Schedule.NewStep(LearningRate, ScheduleStepSize, ScheduleGamma),
            _ => FSharp.Schedule.NewCosine(LearningRate, Math.Max(1, Epochs * batches), MinimumLearningRate),
        };
        return new TrainingOptions(
            optimizer, schedule, Epochs,
            BpttWindow is { } k ? FSharpOption<int>.Some(k) : null,
            ClipNorm is { } c ? FSharpOption<double>.Some(c) : null,
            ClipValue is { } v ? FSharpOption<double>.Some(v) : null,
            Seed,
            CheckpointPath is null ? null : FSharpOption<int>.Some(CheckpointInterval),
            RunawayFactor is { } r ? FSharpOption<double>.Some(r) : null);
    }
}
