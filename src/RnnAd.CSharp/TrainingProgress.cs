namespace RnnAd;

/// <summary>Progress of a training run, reported after every batch.</summary>
/// <param name="Epoch">The epoch in progress (0-based).</param>
/// <param name="Step">Batches done since the start of training.</param>
/// <param name="TotalSteps">Batches the whole run will take.</param>
/// <param name="Loss">The batch's mean loss.</param>
/// <param name="GradientNorm">The gradients' global norm before clipping.</param>
/// <param name="LearningRate">The learning rate of the last update.</param>
/// <param name="StepsPerSecond">Throughput since this run started.</param>
/// <param name="CompletedEpoch">Set on the last batch of an epoch: its summary.</param>
public sealed record TrainingProgress(
    int Epoch, long Step, long TotalSteps, double Loss, double GradientNorm, double LearningRate, double StepsPerSecond, EpochResult? CompletedEpoch);

/// <summary>One epoch of training.</summary>
/// <param name="Epoch">The epoch (0-based).</param>
/// <param name="TrainingLoss">Mean of its batch losses.</param>
/// <param name="Validation">Metrics on the validation data, if any was given.</param>
/// <param name="Duration">Wall-clock time.</param>
public sealed record EpochResult(int Epoch, double TrainingLoss, EvaluationResult? Validation, TimeSpan Duration);

/// <summary>The outcome of training.</summary>
/// <param name="Model">The trained model (the input model is unchanged).</param>
/// <param name="Epochs">One result per epoch run.</param>
public sealed record TrainingResult(RecurrentModel Model, IReadOnlyList<EpochResult> Epochs);

/// <summary>Training stopped because the loss or a gradient was not finite; the message names the step and parameter.</summary>
public sealed class TrainingDivergedException : Exception
{
    internal TrainingDivergedException(string message, RecurrentModel lastGoodModel, Exception inner) : base(message, inner) =>
        LastGoodModel = lastGoodModel;

    /// <summary>The model after the last step whose loss and gradients were finite.</summary>
    public RecurrentModel LastGoodModel { get; }
}
