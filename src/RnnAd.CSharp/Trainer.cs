using RnnAd.FSharp;
using RnnAd.FSharp.Files;
using RnnAd.FSharp.Data;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
using CoreCanceled = RnnAd.FSharp.FitCanceledException;
using CoreDiverged = RnnAd.FSharp.FitDivergedException;

namespace RnnAd;

/// <summary>
/// Trains models: seeded mini-batches, full or truncated BPTT, clipping, learning-rate schedules, validation, early stopping,
/// limits, progress, cancellation and resumable checkpoints. The same options and seed give the same model, bit for bit, and a
/// run resumed from a checkpoint ends where an uninterrupted one would.
/// </summary>
/// <remarks>
/// <para>
/// Reports arrive in order on the training thread before <c>Fit</c> returns (or <c>FitAsync</c>'s task completes): the
/// <see cref="StepCompleted"/> and <see cref="EpochCompleted"/> events, whose handlers can stop training, and
/// <see cref="IProgress{T}.Report"/> of the progress given. A <see cref="Progress{T}"/> hands its reports to the context it was
/// created on; when that is the thread pool (a console program), <c>Fit</c> waits for each report to be handled before it goes
/// on, so those too arrive in order and before <c>Fit</c> returns; a slow handler then slows training.
/// </para>
/// <para>
/// Cancellation follows .NET's convention: the call throws (the task is cancelled) with a
/// <see cref="TrainingCanceledException"/>, an <see cref="OperationCanceledException"/> whose <see cref="TrainingCanceledException.Model"/>
/// is the model after the last completed step; with a <see cref="TrainerOptions.CheckpointPath"/>, that step is saved first.
/// </para>
/// </remarks>
public sealed class Trainer
{
    private readonly TrainerOptions _options;
    private readonly TimeProvider _time;

    /// <summary>A trainer with these options (validated now), reading time from <paramref name="timeProvider"/> (the system clock by default).</summary>
    public Trainer(TrainerOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The options this trainer was created with.</summary>
    public TrainerOptions Options => _options;

    /// <summary>Raised after every step (batch), on the training thread; set <see cref="TrainingStepEventArgs.Stop"/> to end training there.</summary>
    public event EventHandler<TrainingStepEventArgs>? StepCompleted;

    /// <summary>Raised after every epoch, on the training thread; set <see cref="TrainingEpochEventArgs.Stop"/> to end training there.</summary>
    public event EventHandler<TrainingEpochEventArgs>? EpochCompleted;

    /// <summary>Trains a copy of <paramref name="model"/> on <paramref name="training"/>, evaluating <paramref name="validation"/> after every epoch.</summary>
    /// <exception cref="TrainingCanceledException">Cancelled; it carries the model after the last completed step.</exception>
    /// <exception cref="TrainingDivergedException">A loss or gradient was not finite, or the loss ran away.</exception>
    /// <exception cref="CheckpointSaveException">A checkpoint could not be saved; it carries the model it held.</exception>
    /// <exception cref="IOException">The <see cref="TrainerOptions.CheckpointPath"/> cannot be written (found before training).</exception>
    public TrainingResult Fit(
        RecurrentModel model, SequenceDataset training, SequenceDataset? validation = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(training);
        return FitCore(model, training, validation, progress, cancellationToken, ProgressDelivery.SafeToWait());
    }

    /// <summary>
    /// <see cref="Fit"/> on a thread of its own. The task is cancelled by <paramref name="cancellationToken"/> (awaiting it throws the
    /// <see cref="TrainingCanceledException"/> that carries the model) and faults with <see cref="Fit"/>'s other exceptions.
    /// </summary>
    public Task<TrainingResult> FitAsync(
        RecurrentModel model, SequenceDataset training, SequenceDataset? validation = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(training);
        var wait = ProgressDelivery.SafeToWait();
        return Task.Factory.StartNew(() => FitCore(model, training, validation, progress, cancellationToken, wait),
            cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>
    /// Continues the run saved in a training checkpoint. The options that shape the run (all but the limits, the checkpoint's
    /// path and interval and <see cref="TrainerOptions.RestoreBestWeights"/>) and the data must be those the run started with:
    /// any change is refused with an <see cref="ArgumentException"/> naming it. A model of custom cells or losses needs them in
    /// <paramref name="loadOptions"/>.
    /// </summary>
    public TrainingResult Resume(
        string checkpointPath, SequenceDataset training, SequenceDataset? validation = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default, ModelLoadOptions? loadOptions = null)
    {
        ArgumentNullException.ThrowIfNull(checkpointPath);
        ArgumentNullException.ThrowIfNull(training);
        return ResumeCore(checkpointPath, training, validation, progress, cancellationToken, loadOptions, ProgressDelivery.SafeToWait());
    }

    /// <summary><see cref="Resume"/> on a thread of its own, as <see cref="FitAsync"/>.</summary>
    public Task<TrainingResult> ResumeAsync(
        string checkpointPath, SequenceDataset training, SequenceDataset? validation = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default, ModelLoadOptions? loadOptions = null)
    {
        ArgumentNullException.ThrowIfNull(checkpointPath);
        ArgumentNullException.ThrowIfNull(training);
        var wait = ProgressDelivery.SafeToWait();
        return Task.Factory.StartNew(() => ResumeCore(checkpointPath, training, validation, progress, cancellationToken, loadOptions, wait),
            cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private TrainingResult FitCore(
        RecurrentModel model, SequenceDataset training, SequenceDataset? validation, IProgress<TrainingProgress>? progress,
        CancellationToken cancellationToken, bool waitForProgress)
    {
        var plan = Plan(model, training);
        CheckOutputs();
        var start = FSharp.Training.start(_options.ToCore(plan), model.Parameters);
        return Run(model, training, validation, progress, cancellationToken, waitForProgress, plan, start);
    }

    private TrainingResult ResumeCore(
        string checkpointPath, SequenceDataset training, SequenceDataset? validation, IProgress<TrainingProgress>? progress,
        CancellationToken cancellationToken, ModelLoadOptions? loadOptions, bool waitForProgress)
    {
        loadOptions ??= new ModelLoadOptions();
        var (checkpoint, state) = TrainingCheckpoint.loadWith(loadOptions.ToCore(), checkpointPath).ToValueTuple();
        var model = RecurrentModel.FromCheckpoint(checkpointPath, checkpoint, loadOptions);
        var plan = Plan(model, training);
        RunFingerprint.RequireSame(checkpointPath, checkpoint.Metadata, RunFingerprint.Of(_options, training, validation));
        if (_options.RestoreBestWeights && state.Monitor.Best is { } best)
        {
            // The best epoch's parameters are in the best checkpoint beside the last.
            var bestPath = TrainingCheckpoint.bestPath(checkpointPath);
            if (!File.Exists(bestPath))
                throw new FileNotFoundException(
                    $"Resume: RestoreBestWeights needs the best epoch's ({best.Value.Epoch + 1}) checkpoint '{bestPath}', which is missing.", bestPath);
            var parameters = TrainingCheckpoint.loadWith(loadOptions.ToCore(), bestPath).Item2.Parameters;
            state = new TrainingState(state.Parameters, state.Optimizer, state.Epoch, state.Batch, state.StepsDone,
                new MonitorState(state.Monitor.Best, FSharpOption<FSharp.NamedTensors>.Some(parameters), state.Monitor.EpochsSinceBest, state.Monitor.Plateau));
        }
        CheckOutputs();
        return Run(model, training, validation, progress, cancellationToken, waitForProgress, plan, state);
    }

    /// <summary>The steps and updates of one epoch, which the schedules that span the run are sized by.</summary>
    private TrainingPlan Plan(RecurrentModel model, SequenceDataset training)
    {
        var batches = training.Batches(_options.BatchSize, _options.Seed, 0, false);
        var updates = FSharp.Training.updatesIn(model.Core, _options.ToCore(null), batches);
        return new TrainingPlan(batches.Length, updates);
    }

    /// <summary>Refuses, before any work, a checkpoint path (or the best checkpoint's beside it) that cannot be written.</summary>
    private void CheckOutputs()
    {
        if (_options.CheckpointPath is not { } path) return;
        OutputFile.check(path, Array.Empty<string>());
        OutputFile.check(TrainingCheckpoint.bestPath(path), Array.Empty<string>());
    }

    private TrainingResult Run(
        RecurrentModel model, SequenceDataset training, SequenceDataset? validation, IProgress<TrainingProgress>? progress,
        CancellationToken cancellationToken, bool waitForProgress, TrainingPlan plan, TrainingState start)
    {
        var core = _options.ToCore(plan);
        var data = new TrainingData(
            FuncConvert.FromFunc<int, FSharp.Minibatch[]>(epoch => training.Batches(_options.BatchSize, _options.Seed, epoch, _options.Shuffle)),
            validation is null ? null : FSharpOption<FSharp.Minibatch[]>.Some(validation.Batches(_options.BatchSize, _options.Seed, 0, false)));
        // What the run depends on, stored in its checkpoints so that a resume can refuse a change.
        var metadata = _options.CheckpointPath is null ? null : CheckpointMetadata(model, RunFingerprint.Of(_options, training, validation));
        var epochs = new List<EpochResult>();
        using var delivery = new ProgressDelivery(progress, waitForProgress);
        TrainingProgress? lastOfEpoch = null;

        TrainingDecision OnEvent(TrainingEvent e)
        {
            var stop = false;
            switch (e)
            {
                case TrainingEvent.StepCompleted s:
                    var report = ToProgress(s.Item, null);
                    var step = new TrainingStepEventArgs(report);
                    StepCompleted?.Invoke(this, step);
                    stop = step.Stop;
                    // The last step of an epoch is reported with the epoch's summary, which follows at once.
                    if (s.Item.Batch == s.Item.BatchesInEpoch) lastOfEpoch = report;
                    else delivery.Report(report);
                    break;
                case TrainingEvent.EpochCompleted c:
                    var result = ToResult(c.Item, model.ClassNames);
                    epochs.Add(result);
                    var epoch = new TrainingEpochEventArgs(result);
                    EpochCompleted?.Invoke(this, epoch);
                    stop = epoch.Stop;
                    if (lastOfEpoch is not null) delivery.Report(lastOfEpoch with { CompletedEpoch = result });
                    lastOfEpoch = null;
                    break;
            }
            return stop ? TrainingDecision.Stop : TrainingDecision.Continue;
        }

        void Save(string path, TrainingState state)
        {
            try
            {
                TrainingCheckpoint.saveWith(path, model.Spec, model.VocabularyTokens, metadata, state);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CheckpointSaveException(
                    $"Could not save the checkpoint '{path}' after step {state.StepsDone} ({e.Message}); the exception's Model holds the model it was to save.",
                    path, model.With(state.Parameters), epochs.ToArray(), e);
            }
        }

        var hooks = new TrainingHooks(
            FuncConvert.FromFunc<TrainingEvent, TrainingDecision>(OnEvent),
            FuncConvert.FromAction<TrainingState>(s => { if (_options.CheckpointPath is { } p) Save(p, s); }),
            FuncConvert.FromAction<TrainingState>(s => { if (_options.CheckpointPath is { } p) Save(TrainingCheckpoint.bestPath(p), s); }),
            cancellationToken,
            _time);
        TrainingOutcome outcome;
        try
        {
            outcome = FSharp.Training.run(model.Core, core, data, hooks, start);
        }
        catch (CoreDiverged e)
        {
            throw new TrainingDivergedException(e.message, model.With(e.LastGoodState.Parameters), e);
        }
        catch (CoreCanceled e)
        {
            // The work done is kept: in the exception, and in the checkpoint when there is one.
            Exception? notSaved = null;
            try
            {
                if (_options.CheckpointPath is { } p) Save(p, e.State);
            }
            catch (CheckpointSaveException saveFailed)
            {
                notSaved = saveFailed;
            }
            var message = $"Training was cancelled after step {e.State.StepsDone}; the exception's Model is the model after it"
                          + (_options.CheckpointPath is null ? "." : notSaved is null ? $", also saved in '{_options.CheckpointPath}'." : ", which could not be saved (see the inner exception).");
            throw new TrainingCanceledException(message, model.With(e.State.Parameters), epochs.ToArray(), e.State.StepsDone, notSaved ?? e, cancellationToken);
        }
        if (_options.CheckpointPath is { } last) Save(last, outcome.State);
        return new TrainingResult(
            model.With(outcome.Parameters), epochs.ToArray(), StopReasonOf(outcome.Stop),
            outcome.Best is { } b ? b.Value.Epoch : null, model.With(outcome.State.Parameters))
        {
            CoreHistory = outcome.History,
        };
    }

    /// <summary>The metadata entries of the run's checkpoints: what it depends on, and the model's class names.</summary>
    private static FSharpList<Tuple<string, string>> CheckpointMetadata(RecurrentModel model, IReadOnlyDictionary<string, string> fingerprint)
    {
        var entries = new List<Tuple<string, string>> { RunFingerprint.ToMetadata(fingerprint).ToTuple() };
        if (model.ClassNames is { } names) entries.Add(ClassNames.toMetadata(names.ToArray()));
        return ListModule.OfSeq(entries);
    }

    private static TrainingStopReason StopReasonOf(StopReason reason) =>
        reason.IsEarlyStopped ? TrainingStopReason.EarlyStopping
        : reason.IsMaxSteps ? TrainingStopReason.MaxSteps
        : reason.IsTimeBudget ? TrainingStopReason.TimeBudget
        : reason.IsRequested ? TrainingStopReason.Requested
        : TrainingStopReason.Completed;

    private static TrainingProgress ToProgress(StepReport s, EpochResult? completed) =>
        new(s.Epoch, s.Step, s.TotalSteps, s.Loss, s.GradientNorm, s.LearningRate, s.StepsPerSecond, completed)
        {
            Update = s.Update,
            Elapsed = s.Elapsed,
            EstimatedRemaining = s.Remaining,
        };

    private static EpochResult ToResult(EpochReport r, IReadOnlyList<string>? classNames) =>
        new(r.Epoch, r.TrainLoss, r.Validation is { } v ? EvaluationResult.FromCore(v.Value, classNames) : null, TimeSpan.FromSeconds(r.Seconds))
        {
            Training = r.Training is { } t ? EvaluationResult.FromCore(t.Value, classNames) : null,
            Steps = r.Steps,
            Complete = r.Complete,
            LearningRate = r.LearningRate,
            IsBest = r.IsBest,
        };
}

/// <summary>The step a <see cref="Trainer.StepCompleted"/> event reports.</summary>
public sealed class TrainingStepEventArgs : EventArgs
{
    /// <summary>Arguments for a step's report.</summary>
    public TrainingStepEventArgs(TrainingProgress progress) => Progress = progress ?? throw new ArgumentNullException(nameof(progress));

    /// <summary>Where training stands after the step.</summary>
    public TrainingProgress Progress { get; }

    /// <summary>Set to end training after this step (the epoch is then reported as it stands, and the result says <see cref="TrainingStopReason.Requested"/>).</summary>
    public bool Stop { get; set; }
}

/// <summary>The epoch a <see cref="Trainer.EpochCompleted"/> event reports.</summary>
public sealed class TrainingEpochEventArgs : EventArgs
{
    /// <summary>Arguments for an epoch's report.</summary>
    public TrainingEpochEventArgs(EpochResult epoch) => Epoch = epoch ?? throw new ArgumentNullException(nameof(epoch));

    /// <summary>The epoch's summary.</summary>
    public EpochResult Epoch { get; }

    /// <summary>Set to end training after this epoch.</summary>
    public bool Stop { get; set; }
}

/// <summary>
/// Hands reports to an <see cref="IProgress{T}"/>. A <see cref="Progress{T}"/> posts each report to the context it captured, the thread
/// pool when there was none, where reports may run late and out of order; when waiting is safe, each report is then awaited (its
/// <see cref="Progress{T}.ProgressChanged"/> event runs after its handler) before training goes on.
/// </summary>
internal sealed class ProgressDelivery : IDisposable
{
    private readonly IProgress<TrainingProgress>? _progress;
    private readonly Progress<TrainingProgress>? _awaited;
    private readonly SemaphoreSlim _delivered = new(0);

    public ProgressDelivery(IProgress<TrainingProgress>? progress, bool wait)
    {
        _progress = progress;
        if (wait && progress is Progress<TrainingProgress> p)
        {
            _awaited = p;
            p.ProgressChanged += OnDelivered;
        }
    }

    /// <summary>
    /// Whether a thread may wait for reports that a <see cref="Progress{T}"/> made on it will post: only when it has no synchronization
    /// context (or the default one, the thread pool's). A UI context runs posts on the thread that would be waiting, and delivers them
    /// in order before anything posted later anyway.
    /// </summary>
    public static bool SafeToWait() => SynchronizationContext.Current is null || SynchronizationContext.Current.GetType() == typeof(SynchronizationContext);

    private void OnDelivered(object? sender, TrainingProgress e) => _delivered.Release();

    public void Report(TrainingProgress report)
    {
        if (_progress is null) return;
        _progress.Report(report);
        if (_awaited is not null) _delivered.Wait();
    }

    public void Dispose()
    {
        if (_awaited is not null) _awaited.ProgressChanged -= OnDelivered;
        _delivered.Dispose();
    }
}
