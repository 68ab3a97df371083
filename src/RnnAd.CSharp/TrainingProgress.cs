using RnnAd.FSharp;
using RnnAd.FSharp.Files;
using RnnAd.FSharp.Data;
using Microsoft.FSharp.Collections;

namespace RnnAd;

/// <summary>Progress of a training run, reported after every step (batch).</summary>
/// <param name="Epoch">The epoch in progress (0-based).</param>
/// <param name="Step">Steps (batches) done since the start of training.</param>
/// <param name="TotalSteps">
/// Steps the run takes unless early stopping, the time budget or a stop request ends it sooner: every epoch's, or
/// <see cref="TrainerOptions.MaxSteps"/> when fewer.
/// </param>
/// <param name="Loss">The batch's mean loss.</param>
/// <param name="GradientNorm">The gradients' global norm before clipping.</param>
/// <param name="LearningRate">The learning rate of the last update.</param>
/// <param name="StepsPerSecond">Throughput since this call started.</param>
/// <param name="CompletedEpoch">Set on the last batch of an epoch: its summary.</param>
public sealed record TrainingProgress(
    int Epoch, long Step, long TotalSteps, double Loss, double GradientNorm, double LearningRate, double StepsPerSecond, EpochResult? CompletedEpoch)
{
    /// <summary>Optimizer updates done since the start of training (more than steps under truncated BPTT of a per-step model).</summary>
    public long Update { get; init; }

    /// <summary>Time since this call started.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>Estimated time to <see cref="TotalSteps"/> at this call's pace so far, or to the end of the time budget when sooner.</summary>
    public TimeSpan EstimatedRemaining { get; init; }
}

/// <summary>One epoch of training, or the part of one that ran before training stopped within it.</summary>
/// <param name="Epoch">The epoch (0-based).</param>
/// <param name="TrainingLoss">Mean of its batch losses.</param>
/// <param name="Validation">Metrics on the validation data, if any was given.</param>
/// <param name="Duration">Wall-clock time.</param>
public sealed record EpochResult(int Epoch, double TrainingLoss, EvaluationResult? Validation, TimeSpan Duration)
{
    /// <summary>
    /// Metrics of the training batches as they were trained (with dropout and each moment's weights); null when no batch of the epoch
    /// ran in this call (a run resumed at its very end).
    /// </summary>
    public EvaluationResult? Training { get; init; }

    /// <summary>Steps (batches) the epoch ran in this call.</summary>
    public int Steps { get; init; }

    /// <summary>Whether the epoch ran to its last batch; only complete epochs count for the best epoch, early stopping and ReduceOnPlateau.</summary>
    public bool Complete { get; init; } = true;

    /// <summary>The learning rate for the next update.</summary>
    public double LearningRate { get; init; }

    /// <summary>Whether the epoch is the best so far by the monitored figure.</summary>
    public bool IsBest { get; init; }
}

/// <summary>Why training ended.</summary>
public enum TrainingStopReason
{
    /// <summary>Every epoch ran.</summary>
    Completed,
    /// <summary>The monitored figure did not improve for <see cref="TrainerOptions.EarlyStoppingPatience"/> epochs.</summary>
    EarlyStopping,
    /// <summary><see cref="TrainerOptions.MaxSteps"/> steps were done.</summary>
    MaxSteps,
    /// <summary>The <see cref="TrainerOptions.TimeBudget"/> ran out.</summary>
    TimeBudget,
    /// <summary>An event handler set Stop.</summary>
    Requested,
}

/// <summary>The outcome of training.</summary>
/// <param name="Model">
/// The trained model (the input model is unchanged): the best epoch's with <see cref="TrainerOptions.RestoreBestWeights"/>, else the last.
/// </param>
/// <param name="Epochs">One result per epoch run.</param>
/// <param name="StopReason">Why training ended.</param>
/// <param name="BestEpoch">The best epoch by the monitored figure (0-based), if an epoch completed.</param>
/// <param name="LastModel">The model after the last step (what the checkpoint holds and a resumed run starts from).</param>
public sealed record TrainingResult(
    RecurrentModel Model, IReadOnlyList<EpochResult> Epochs, TrainingStopReason StopReason, int? BestEpoch, RecurrentModel LastModel)
{
    internal FSharpList<EpochReport> CoreHistory { get; init; } = FSharpList<EpochReport>.Empty;

    /// <summary>
    /// The history as CSV, one row per epoch: <c>epoch</c> (0-based), <c>steps</c>, <c>complete</c>, <c>seconds</c>, <c>learning_rate</c>,
    /// <c>mean_batch_loss</c>, then <c>train_…</c> and <c>val_…</c> for every figure some epoch reports (<c>loss</c>, <c>accuracy</c>,
    /// <c>perplexity</c>, <c>bits_per_character</c>, <c>macro_precision</c>, <c>macro_recall</c>, <c>macro_f1</c>, <c>rmse</c>, <c>mae</c>,
    /// <c>r2</c>), and <c>best</c>. Numbers use the invariant culture.
    /// </summary>
    public string ToCsv() => History.toCsv(CoreHistory);

    /// <summary>The history as JSON: every epoch with all its figures, per-class figures and confusion matrices included (null where a figure does not apply).</summary>
    public string ToJson() => History.toJson(CoreHistory);

    /// <summary>
    /// Writes the history to <paramref name="path"/>: JSON when it ends in <c>.json</c>, CSV otherwise. Atomic: a failure leaves any earlier file intact.
    /// </summary>
    public void SaveHistory(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        TextOutput.write(path, path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? ToJson() : ToCsv());
    }
}

/// <summary>
/// Training stopped because the loss or a gradient was not finite, or the loss ran away; the message names the step (and
/// parameter), and <see cref="LastGoodModel"/> is the model after the last good step.
/// </summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>An exception without a message or model.</summary>
    public TrainingDivergedException() { }

    /// <summary>An exception with a message and no model.</summary>
    public TrainingDivergedException(string message) : base(message) { }

    /// <summary>An exception with a message and a cause, and no model.</summary>
    public TrainingDivergedException(string message, Exception? innerException) : base(message, innerException) { }

    /// <summary>An exception with a message, the model after the last good step, and a cause.</summary>
    public TrainingDivergedException(string message, RecurrentModel? lastGoodModel, Exception? innerException = null) : base(message, innerException) =>
        LastGoodModel = lastGoodModel;

    /// <summary>The model after the last step whose loss and gradients were finite.</summary>
    public RecurrentModel? LastGoodModel { get; }
}

/// <summary>
/// Training was cancelled between two steps (an <see cref="OperationCanceledException"/>, so a task is cancelled by it); the work done
/// is kept in <see cref="Model"/>, the model after the last completed step, which is also what the checkpoint holds when there is one.
/// </summary>
public sealed class TrainingCanceledException : OperationCanceledException
{
    /// <summary>An exception without a message or model.</summary>
    public TrainingCanceledException() { }

    /// <summary>An exception with a message and no model.</summary>
    public TrainingCanceledException(string message) : base(message) { }

    /// <summary>An exception with a message and a cause, and no model.</summary>
    public TrainingCanceledException(string message, Exception? innerException) : base(message, innerException) { }

    /// <summary>An exception carrying the model after the last completed step, the epochs reported before, and the token that cancelled.</summary>
    public TrainingCanceledException(
        string message, RecurrentModel? model, IReadOnlyList<EpochResult> epochs, long completedSteps, Exception? innerException, CancellationToken token)
        : base(message, innerException, token)
    {
        Model = model;
        Epochs = epochs ?? Array.Empty<EpochResult>();
        CompletedSteps = completedSteps;
    }

    /// <summary>The model after the last completed step.</summary>
    public RecurrentModel? Model { get; }

    /// <summary>The epochs reported before the cancellation.</summary>
    public IReadOnlyList<EpochResult> Epochs { get; } = Array.Empty<EpochResult>();

    /// <summary>Steps done since the start of training when it was cancelled.</summary>
    public long CompletedSteps { get; }
}

/// <summary>
/// A checkpoint could not be saved during or after training (an <see cref="IOException"/>; the inner exception says why). The trained
/// model is not lost: <see cref="Model"/> is the one the checkpoint was to hold; save it elsewhere.
/// </summary>
public sealed class CheckpointSaveException : IOException
{
    /// <summary>An exception without a message or model.</summary>
    public CheckpointSaveException() { }

    /// <summary>An exception with a message and no model.</summary>
    public CheckpointSaveException(string message) : base(message) { }

    /// <summary>An exception with a message and a cause, and no model.</summary>
    public CheckpointSaveException(string message, Exception? innerException) : base(message, innerException) { }

    /// <summary>An exception carrying the path that failed, the model it was to hold, the epochs reported before, and the cause.</summary>
    public CheckpointSaveException(string message, string? path, RecurrentModel? model, IReadOnlyList<EpochResult> epochs, Exception? innerException)
        : base(message, innerException)
    {
        Path = path;
        Model = model;
        Epochs = epochs ?? Array.Empty<EpochResult>();
    }

    /// <summary>The checkpoint that could not be written.</summary>
    public string? Path { get; }

    /// <summary>The model the checkpoint was to hold.</summary>
    public RecurrentModel? Model { get; }

    /// <summary>The epochs reported before the failure.</summary>
    public IReadOnlyList<EpochResult> Epochs { get; } = Array.Empty<EpochResult>();
}
