namespace RnnAd.CSharp.Tests;

/// <summary>
/// The training loop as a C# program drives it: validation, early stopping, events, cancellation, async, limits, schedules and
/// the history, on a character model of a short text (8 batches of 8 windows per epoch).
/// </summary>
public sealed class TrainingLoopTests : IDisposable
{
    private const string Text = "the quick brown fox jumps over the lazy dog. ";
    private readonly string _folder = Directory.CreateTempSubdirectory("rnnad-loop-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static readonly Vocabulary Characters = Vocabulary.FromCharacters(Text);

    private static RecurrentModel Model(int seed = 1) =>
        new ModelBuilder().Lstm(16).Embedding(Characters.Count, 6).PredictEveryStep(Characters.Count).Build(seed, Characters);

    private static SequenceDataset Data(string text) => SequenceDataset.ForLanguageModel(string.Concat(Enumerable.Repeat(text, 6)), Characters, windowLength: 16, stride: 4);

    private static readonly SequenceDataset Training = Data(Text);

    /// <summary>
    /// Validation text of which one word contradicts the training text ("cat" for "dog", letters it knows): its loss falls while the
    /// model learns what the two texts share, then rises as it learns "dog" (measured: a minimum inside the run), so early stopping
    /// has a best epoch to restore.
    /// </summary>
    private static readonly SequenceDataset Contrary = Data("the quick brown fox jumps over the lazy cog. ");

    private static TrainerOptions Options(int epochs) => new() { LearningRate = 0.02, Epochs = epochs, BatchSize = 8, ClipNorm = 5, Seed = 3 };

    private string PathOf(string name) => Path.Combine(_folder, name);

    private static void SameParameters(RecurrentModel expected, RecurrentModel actual, string what)
    {
        foreach (var name in expected.ParameterNames)
            Assert.True(expected.GetParameterValues(name).SequenceEqual(actual.GetParameterValues(name)), $"{what}: {name} differs");
    }

    private static bool Same(RecurrentModel a, RecurrentModel b) => a.ParameterNames.All(n => a.GetParameterValues(n).SequenceEqual(b.GetParameterValues(n)));

    [Fact]
    public void Early_stopping_restores_the_best_epoch_which_the_best_checkpoint_beside_the_last_holds()
    {
        var path = PathOf("run.safetensors");
        var options = Options(40) with { EarlyStoppingPatience = 3, RestoreBestWeights = true, CheckpointPath = path };
        var result = new Trainer(options).Fit(Model(), Training, Contrary);
        var losses = result.Epochs.Select(e => e.Validation!.Loss).ToArray();
        var best = Array.IndexOf(losses, losses.Min());
        Assert.Equal(TrainingStopReason.EarlyStopping, result.StopReason);
        Assert.True(best > 0, $"the best epoch ({best}) comes after the first");
        Assert.Equal(best, result.BestEpoch);
        Assert.Equal(best + 3 + 1, result.Epochs.Count);
        Assert.True(result.Epochs[best].IsBest);
        SameParameters(RecurrentModel.Load(PathOf("run.best.safetensors")), result.Model, "the best checkpoint");
        SameParameters(RecurrentModel.Load(path), result.LastModel, "the last checkpoint");
        Assert.False(Same(result.Model, result.LastModel), "the best epoch is not the last");
        // Its validation bits per character are the best epoch's, to the bit.
        Assert.Equal(result.Epochs[best].Validation!.BitsPerCharacter, result.Model.Evaluate(Contrary.GetBatches(8)).BitsPerCharacter);
    }

    [Fact]
    public void A_cancelled_run_carries_the_model_of_its_last_step_which_the_checkpoint_holds()
    {
        var path = PathOf("cancel.safetensors");
        var options = Options(20) with { CheckpointPath = path, CheckpointInterval = 100 };
        using var cts = new CancellationTokenSource();
        var trainer = new Trainer(options);
        trainer.StepCompleted += (_, e) => { if (e.Progress.Step == 5) cts.Cancel(); };
        var error = Assert.Throws<TrainingCanceledException>(() => trainer.Fit(Model(), Training, cancellationToken: cts.Token));
        Assert.Equal(5, error.CompletedSteps);
        Assert.Equal(cts.Token, error.CancellationToken);
        SameParameters(RecurrentModel.Load(path), error.Model!, "the checkpoint written at cancellation");
        // The work goes on from there to the bits of an uninterrupted run.
        var straight = new Trainer(Options(2)).Fit(Model(), Training).Model;
        SameParameters(straight, new Trainer(Options(2) with { CheckpointPath = path }).Resume(path, Training).Model, "resumed");
    }

    [Fact]
    public async Task FitAsync_gives_Fit_s_model_and_its_task_is_cancelled_by_the_token_with_the_model()
    {
        var options = Options(2);
        SameParameters(new Trainer(options).Fit(Model(), Training).Model, (await new Trainer(options).FitAsync(Model(), Training)).Model, "async");
        using var cts = new CancellationTokenSource();
        var trainer = new Trainer(Options(50));
        trainer.StepCompleted += (_, e) => { if (e.Progress.Step == 3) cts.Cancel(); };
        var task = trainer.FitAsync(Model(), Training, cancellationToken: cts.Token);
        var error = await Assert.ThrowsAsync<TrainingCanceledException>(() => task);
        Assert.True(task.IsCanceled);
        Assert.Equal(3, error.CompletedSteps);
        SameParameters(new Trainer(options with { MaxSteps = 3 }).Fit(Model(), Training).Model, error.Model!, "the model after step 3");
    }

    [Fact]
    public void Events_arrive_in_order_on_the_training_thread_and_can_stop_training()
    {
        var trainer = new Trainer(Options(10));
        var seen = new List<string>();
        trainer.StepCompleted += (_, e) => seen.Add($"step {e.Progress.Step}");
        trainer.EpochCompleted += (_, e) =>
        {
            seen.Add($"epoch {e.Epoch.Epoch}");
            e.Stop = e.Epoch.Epoch == 1;
        };
        var result = trainer.Fit(Model(), Training);
        var batches = Training.GetBatches(8).Count;
        Assert.Equal(TrainingStopReason.Requested, result.StopReason);
        Assert.Equal(2, result.Epochs.Count);
        var expected = Enumerable.Range(0, 2).SelectMany(e => Enumerable.Range(1, batches).Select(b => $"step {e * batches + b}").Append($"epoch {e}"));
        Assert.Equal(expected, seen);
    }

    [Fact]
    public void A_Progress_of_T_on_the_thread_pool_gets_every_report_in_order_before_Fit_returns()
    {
        // A console program's thread: no synchronization context, so Progress<T> posts its reports to the thread pool, where a
        // slow handler used to see them late and out of order. Three runs, as the reports were lost in 1 of 3.
        for (var run = 0; run < 3; run++)
        {
            var handled = new List<long>();
            long[]? atReturn = null;
            var thread = new Thread(() =>
            {
                SynchronizationContext.SetSynchronizationContext(null);
                var progress = new Progress<TrainingProgress>(p =>
                {
                    Thread.Sleep(3);
                    lock (handled) handled.Add(p.Step);
                });
                new Trainer(Options(2)).Fit(Model(), Training, progress: progress);
                lock (handled) atReturn = handled.ToArray();
            });
            thread.Start();
            thread.Join();
            var steps = 2 * Training.GetBatches(8).Count;
            Assert.Equal(Enumerable.Range(1, steps).Select(s => (long)s), atReturn!);
        }
    }

    [Fact]
    public void MaxSteps_ends_a_run_within_an_epoch_and_reports_the_part_that_ran()
    {
        var result = new Trainer(Options(10) with { MaxSteps = 11 }).Fit(Model(), Training, Training);
        Assert.Equal(TrainingStopReason.MaxSteps, result.StopReason);
        Assert.Equal(2, result.Epochs.Count);
        Assert.Equal((8, true), (result.Epochs[0].Steps, result.Epochs[0].Complete));
        Assert.Equal((3, false), (result.Epochs[1].Steps, result.Epochs[1].Complete));
        Assert.NotNull(result.Epochs[1].Validation);
    }

    [Fact]
    public void The_time_budget_and_the_estimates_follow_the_clock_given()
    {
        var clock = new ManualClock();
        var trainer = new Trainer(Options(10) with { TimeBudget = TimeSpan.FromSeconds(45) }, clock);
        var reports = new List<TrainingProgress>();
        trainer.StepCompleted += (_, e) =>
        {
            reports.Add(e.Progress);
            clock.Advance(TimeSpan.FromSeconds(10));
        };
        var result = trainer.Fit(Model(), Training);
        // Each step takes 10 s by this clock: after 5 steps 50 s have passed, more than the 45 s budget.
        Assert.Equal(TrainingStopReason.TimeBudget, result.StopReason);
        Assert.Equal(5, reports.Count);
        // Step 2 is reported after 10 s: 0.2 steps/s, 78 of 80 steps to go (390 s), but only 35 s of budget left.
        Assert.Equal(80, reports[1].TotalSteps);
        Assert.Equal(TimeSpan.FromSeconds(10), reports[1].Elapsed);
        Assert.Equal(TimeSpan.FromSeconds(35), reports[1].EstimatedRemaining);
        var unlimited = new Trainer(Options(1), new ManualClock(TimeSpan.FromSeconds(10)));
        var first = new List<TrainingProgress>();
        unlimited.StepCompleted += (_, e) => first.Add(e.Progress);
        unlimited.Fit(Model(), Training);
        // This clock moves 10 s each time it is read: the estimates follow whatever pace it shows, never negative, 0 at the end.
        Assert.All(first, p => Assert.True(p.EstimatedRemaining >= TimeSpan.Zero));
        Assert.Equal(TimeSpan.Zero, first[^1].EstimatedRemaining);
    }

    [Fact]
    public void With_truncated_BPTT_a_cosine_schedule_spans_the_run_s_updates_not_its_batches()
    {
        // Windows of 16 steps in chunks of 4: four updates per batch, 8 batches, 2 epochs: 64 updates. The cosine must reach its
        // minimum at the last of them, not after 16 (a quarter of the run), as when it counted batches.
        var options = Options(2) with { BpttWindow = 4, Schedule = LearningRateSchedule.Cosine, LearningRate = 0.01, MinimumLearningRate = 0.001 };
        var trainer = new Trainer(options);
        var reports = new List<TrainingProgress>();
        trainer.StepCompleted += (_, e) => reports.Add(e.Progress);
        trainer.Fit(Model(), Training);
        double Cosine(long update) => 0.001 + (0.01 - 0.001) * (1 + Math.Cos(Math.PI * update / 64.0)) / 2;
        Assert.Equal(64, reports[^1].Update);
        // Each report's rate is that of its batch's last update, number Update − 1 (0-based). Exact formula: 1e-15 relative.
        Assert.All(reports, p => Assert.Equal(Cosine(p.Update - 1), p.LearningRate, 1e-15 * Cosine(p.Update - 1)));
        Assert.Equal(Cosine(31), reports[7].LearningRate, 1e-17);
        Assert.True(reports[7].LearningRate > 0.005, "halfway through the run the rate is still above the middle of its range");
    }

    [Fact]
    public void Warm_up_and_one_cycle_are_sized_by_the_run_and_its_step_limit()
    {
        var options = Options(4) with { Schedule = LearningRateSchedule.OneCycle, LearningRate = 0.02, WarmupSteps = 2, WarmupStartFactor = 0.5, MaxSteps = 22 };
        var trainer = new Trainer(options);
        var rates = new List<double>();
        trainer.StepCompleted += (_, e) => rates.Add(e.Progress.LearningRate);
        trainer.Fit(Model(), Training);
        // 22 planned updates: 2 of warm-up to the cycle's first rate (0.02 / 25), then a cycle of 20 peaking at update 0.3·20 − 1 = 5.
        double Cycle(int u)
        {
            double Anneal(double a, double b, double pct) => b + (a - b) / 2 * (Math.Cos(Math.PI * pct) + 1);
            return u <= 5 ? Anneal(0.0008, 0.02, u / 5.0) : Anneal(0.02, 0.0008 / 1e4, (u - 5) / 14.0);
        }
        var expected = new[] { 0.0008 * 0.5, 0.0008 * 0.75 }.Concat(Enumerable.Range(0, 20).Select(Cycle)).ToArray();
        Assert.Equal(22, rates.Count);
        // The cycle's first rate is PyTorch's anneal at 0, max + (start − max): exact but for a rounding of 0.02's size, 3e-15
        // relative to 0.0008 (1e-13 allows for it).
        for (var i = 0; i < 22; i++) Assert.Equal(expected[i], rates[i], 1e-13 * expected[i]);
        Assert.Equal("WarmupSteps", Assert.Throws<ArgumentException>(() => new Trainer(options with { WarmupSteps = 22 }).Fit(Model(), Training)).ParamName);
    }

    [Fact]
    public void ReduceOnPlateau_lowers_the_rate_when_validation_stalls()
    {
        var options = Options(20) with { Schedule = LearningRateSchedule.ReduceOnPlateau, PlateauPatience = 1, PlateauFactor = 0.5 };
        var result = new Trainer(options).Fit(Model(), Training, Contrary);
        Assert.True(result.Epochs[^1].LearningRate < 0.02, "reduced");
        Assert.All(result.Epochs.Select(e => e.LearningRate), r => Assert.Contains(r, new[] { 0.02, 0.01, 0.005, 0.0025, 0.00125 }));
    }

    [Fact]
    public void Every_epoch_reports_training_and_validation_figures_and_the_history_exports_them()
    {
        var result = new Trainer(Options(2)).Fit(Model(), Training, Contrary);
        var epoch = result.Epochs[1];
        Assert.NotNull(epoch.Training!.BitsPerCharacter);
        Assert.Equal(epoch.Validation!.Loss / Math.Log(2), epoch.Validation.BitsPerCharacter!.Value, 1e-15);
        Assert.NotNull(epoch.Validation.MacroF1);
        Assert.Equal(Characters.Count, epoch.Validation.Classes!.Count);
        Assert.Equal(epoch.Validation.Count, epoch.Validation.ConfusionMatrix!.Cast<long>().Sum());
        var csv = result.ToCsv().TrimEnd().Split('\n');
        Assert.Equal(3, csv.Length);
        Assert.StartsWith("epoch,steps,complete,seconds,learning_rate,mean_batch_loss,train_loss,", csv[0]);
        Assert.Contains("val_bits_per_character", csv[0]);
        var path = PathOf("history.json");
        result.SaveHistory(path);
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
        Assert.Equal(epoch.Validation.Loss, json.RootElement[1].GetProperty("validation").GetProperty("loss").GetDouble());
    }

    /// <summary>A clock that moves only when told (or by a fixed amount each time it is read).</summary>
    private sealed class ManualClock(TimeSpan perRead = default) : TimeProvider
    {
        private long _ticks;

        public void Advance(TimeSpan t) => _ticks += t.Ticks;

        public override long GetTimestamp()
        {
            var now = _ticks;
            _ticks += perRead.Ticks;
            return now;
        }

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    }
}
