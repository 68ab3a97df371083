using RnnAd.FSharp;
using Microsoft.FSharp.Core;

namespace RnnAd;

/// <summary>
/// Trains models: seeded mini-batches, full or truncated BPTT, clipping, learning-rate schedules, progress,
/// cancellation and resumable checkpoints. The same options and seed give the same model, bit for bit, and a
/// run resumed from a checkpoint ends where an uninterrupted one would.
/// </summary>
public sealed class Trainer
{
    private readonly TrainerOptions _options;

    /// <summary>A trainer with these options (validated now).</summary>
    public Trainer(TrainerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

    /// <summary>Trains a copy of <paramref name="model"/> on <paramref name="training"/>, reporting after every batch.</summary>
    /// <exception cref="OperationCanceledException">Cancelled; the last checkpoint written stays valid.</exception>
    /// <exception cref="TrainingDivergedException">A loss or gradient was not finite.</exception>
    public TrainingResult Fit(
        RecurrentModel model, SequenceDataset training, SequenceDataset? validation = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(training);
        var core = _options.ToCore(BatchesPerEpoch(training));
        return Run(model, training, validation, progress, cancellationToken, FSharp.Trainer.start(core, model.Parameters));
    }

    /// <summary>
    /// Continues the run saved in a training checkpoint (written by a trainer with the same options); a model of
    /// custom cells or losses needs them in <paramref name="loadOptions"/>.
    /// </summary>
    public TrainingResult Resume(
        string checkpointPath, SequenceDataset training, SequenceDataset? validation = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default, ModelLoadOptions? loadOptions = null)
    {
        ArgumentNullException.ThrowIfNull(checkpointPath);
        ArgumentNullException.ThrowIfNull(training);
        loadOptions ??= new ModelLoadOptions();
        var (checkpoint, state) = TrainingCheckpoint.loadWith(loadOptions.ToCore(), checkpointPath).ToValueTuple();
        var model = RecurrentModel.FromCheckpoint(checkpointPath, checkpoint, loadOptions);
        return Run(model, training, validation, progress, cancellationToken, state);
    }

    private int BatchesPerEpoch(SequenceDataset training) => training.Batches(_options.BatchSize, _options.Seed, 0, false).Length;

    private TrainingResult Run(
        RecurrentModel model, SequenceDataset training, SequenceDataset? validation,
        IProgress<TrainingProgress>? progress, CancellationToken cancellationToken, TrainingState start)
    {
        var batchesPerEpoch = BatchesPerEpoch(training);
        var core = _options.ToCore(batchesPerEpoch);
        var data = new TrainingData(
            FuncConvert.FromFunc<int, FSharp.SequenceBatch[]>(epoch => training.Batches(_options.BatchSize, _options.Seed, epoch, _options.Shuffle)),
            validation is null ? null : FSharpOption<FSharp.SequenceBatch[]>.Some(validation.Batches(_options.BatchSize, _options.Seed, 0, false)));
        var total = (long)_options.Epochs * batchesPerEpoch;
        StepReport? lastStep = null;
        void Report(TrainingEvent e)
        {
            switch (e)
            {
                case TrainingEvent.StepCompleted s:
                    lastStep = s.Item;
                    // The epoch's last batch is reported with its summary below.
                    if ((s.Item.Step - (long)s.Item.Epoch * batchesPerEpoch) % batchesPerEpoch != 0)
                        progress?.Report(Progress(s.Item, total, null));
                    break;
                case TrainingEvent.EpochCompleted c when lastStep is not null:
                    progress?.Report(Progress(lastStep, total, ToResult(c.Item)));
                    break;
            }
        }
        void Save(TrainingState state)
        {
            if (_options.CheckpointPath is { } path) TrainingCheckpoint.save(path, model.Spec, model.VocabularyTokens, state);
        }
        try
        {
            var (final, history) = FSharp.Trainer.fit(SequenceModel.model(model.Spec), core, data, FuncConvert.FromAction<TrainingEvent>(Report),
                FuncConvert.FromAction<TrainingState>(Save), cancellationToken, start).ToValueTuple();
            Save(final);
            return new TrainingResult(model.With(final.Parameters), history.Select(ToResult).ToArray());
        }
        catch (FSharp.TrainingDivergedException e)
        {
            throw new TrainingDivergedException(e.message, model.With(e.LastGoodState.Parameters), e);
        }
    }

    private static TrainingProgress Progress(StepReport s, long total, EpochResult? completed) =>
        new(s.Epoch, s.Step, total, s.Loss, s.GradientNorm, s.LearningRate, s.StepsPerSecond, completed);

    private static EpochResult ToResult(EpochReport r) =>
        new(r.Epoch, r.TrainLoss,
            r.Validation is { } v ? new EvaluationResult(v.Value.Loss, v.Value.Accuracy, v.Value.Perplexity, v.Value.Count) : null,
            TimeSpan.FromSeconds(r.Seconds));
}
