namespace RnnAd.CSharp.Tests;

public sealed class TrainerTests : IDisposable
{
    private const string Text = "the quick brown fox jumps over the lazy dog. ";
    private readonly string _folder = Directory.CreateTempSubdirectory("rnnad-cs-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static (RecurrentModel Model, SequenceDataset Data) CharacterModel(int seed = 1)
    {
        var text = string.Concat(Enumerable.Repeat(Text, 6));
        var vocabulary = Vocabulary.FromCharacters(text);
        var model = new ModelBuilder().Lstm(32).Embedding(vocabulary.Count, 8).PredictEveryStep(vocabulary.Count).Build(seed, vocabulary);
        return (model, SequenceDataset.ForLanguageModel(text, vocabulary, windowLength: 16, stride: 4));
    }

    private static TrainerOptions Options(int epochs) => new() { LearningRate = 0.02, Epochs = epochs, BatchSize = 8, ClipNorm = 5, Seed = 3 };

    private static bool SameParameters(RecurrentModel a, RecurrentModel b) =>
        a.ParameterNames.All(n => a.GetParameterValues(n).SequenceEqual(b.GetParameterValues(n)));

    [Fact]
    public void Training_lowers_the_loss_and_learns_the_text()
    {
        var (model, data) = CharacterModel();
        var before = model.Evaluate(data.GetBatches(64));
        var result = new Trainer(Options(40)).Fit(model, data);
        var after = result.Model.Evaluate(data.GetBatches(64));
        Assert.True(after.Loss < before.Loss / 5, $"loss {before.Loss} → {after.Loss}");
        Assert.True(after.Accuracy > 0.9, $"accuracy {after.Accuracy}");
        Assert.Equal(40, result.Epochs.Count);
        Assert.Equal("the quick brown fox", result.Model.Sample("the q", 14, temperature: 0).Insert(0, "the q"));
    }

    [Fact]
    public void Progress_is_reported_per_batch_with_one_summary_per_epoch()
    {
        var (model, data) = CharacterModel();
        var reports = new List<TrainingProgress>();
        new Trainer(Options(2)).Fit(model, data, validation: data, progress: new SynchronousProgress<TrainingProgress>(reports.Add));
        var batches = data.GetBatches(8).Count;
        Assert.Equal(2 * batches, reports.Count);
        Assert.Equal(Enumerable.Range(1, 2 * batches).Select(i => (long)i), reports.Select(r => r.Step));
        var summaries = reports.Where(r => r.CompletedEpoch is not null).ToList();
        Assert.Equal(2, summaries.Count);
        Assert.NotNull(summaries[1].CompletedEpoch!.Validation);
        Assert.All(reports, r => Assert.Equal(2L * batches, r.TotalSteps));
    }

    [Fact]
    public void Save_then_load_gives_identical_predictions_and_vocabulary()
    {
        var (model, data) = CharacterModel();
        var trained = new Trainer(Options(3)).Fit(model, data).Model;
        var path = Path.Combine(_folder, "model.safetensors");
        trained.Save(path);
        var loaded = RecurrentModel.Load(path);
        Assert.Equal(trained.Description, loaded.Description);
        Assert.Equal(trained.Vocabulary!.Tokens, loaded.Vocabulary!.Tokens);
        Assert.Equal(TokenKind.Characters, loaded.Vocabulary.Kind);
        Assert.True(SameParameters(trained, loaded));
        var batch = data.GetBatches(16)[0];
        Assert.Equal(trained.Predict(batch), loaded.Predict(batch));
        Assert.Equal(trained.Sample("the ", 20, seed: 5), loaded.Sample("the ", 20, seed: 5));
    }

    [Fact]
    public void Resuming_from_a_checkpoint_gives_the_same_bits_as_an_uninterrupted_run()
    {
        var (model, data) = CharacterModel();
        var path = Path.Combine(_folder, "train.safetensors");
        var options = Options(3) with { CheckpointPath = path, CheckpointInterval = 2, BpttWindow = 5, Optimizer = OptimizerType.AdamW };
        var straight = new Trainer(options with { CheckpointPath = null }).Fit(model, data).Model;
        using var cts = new CancellationTokenSource();
        var progress = new SynchronousProgress<TrainingProgress>(p => { if (p.Step == 5) cts.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => new Trainer(options).Fit(model, data, progress: progress, cancellationToken: cts.Token));
        var resumed = new Trainer(options).Resume(path, data).Model;
        Assert.True(SameParameters(straight, resumed));
    }

    [Fact]
    public void Cancellation_stops_promptly_and_leaves_the_last_checkpoint_valid()
    {
        var (model, data) = CharacterModel();
        var path = Path.Combine(_folder, "cancel.safetensors");
        using var cts = new CancellationTokenSource();
        var steps = 0L;
        var progress = new SynchronousProgress<TrainingProgress>(p => { steps = p.Step; if (p.Step == 7) cts.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() =>
            new Trainer(Options(50) with { CheckpointPath = path, CheckpointInterval = 3 }).Fit(model, data, progress: progress, cancellationToken: cts.Token));
        Assert.Equal(7, steps); // no batch ran after the cancellation
        var saved = RecurrentModel.Load(path); // the checkpoint after batch 6 is a valid model
        Assert.Equal(model.Description, saved.Description);
    }

    [Fact]
    public void A_diverging_run_stops_naming_the_step_and_keeps_the_last_good_model()
    {
        // A learning rate of 10⁶ throws the weights far out: the loss climbs by orders of magnitude at once.
        var model = new ModelBuilder().Rnn(4).Features(2).ClassifyLastStep(2).Build(seed: 1);
        var good = SequenceBatch.FromFeatures(new[] { new[] { new[] { 1.0, 0.0 } } }, new[] { 1 });
        var other = SequenceBatch.FromFeatures(new[] { new[] { new[] { 0.0, 1.0 } } }, new[] { 0 });
        var data = SequenceDataset.FromBatches(new[] { good, other });
        var error = Assert.Throws<TrainingDivergedException>(() => new Trainer(Options(1) with { Shuffle = false, LearningRate = 1e6 }).Fit(model, data));
        Assert.Contains("step 2", error.Message);
        Assert.Contains("times the run's mean batch loss", error.Message);
        Assert.All(error.LastGoodModel!.ParameterNames, n => Assert.All(error.LastGoodModel.GetParameterValues(n), v => Assert.True(double.IsFinite(v))));
    }

    [Fact]
    public void A_non_finite_feature_is_refused_before_training_naming_where_it_sits()
    {
        var error = Assert.Throws<ArgumentException>(() => SequenceBatch.FromFeatures(new[] { new[] { new[] { 1.0, 0.0 }, new[] { 0.0, double.NaN } } }, new[] { 1 }));
        Assert.Contains("Feature 1 of step 1 of sequence 0", error.Message);
    }

    [Theory]
    [InlineData(nameof(TrainerOptions.LearningRate))]
    [InlineData(nameof(TrainerOptions.BatchSize))]
    [InlineData(nameof(TrainerOptions.Epochs))]
    [InlineData(nameof(TrainerOptions.BpttWindow))]
    [InlineData(nameof(TrainerOptions.ClipNorm))]
    [InlineData(nameof(TrainerOptions.Beta1))]
    [InlineData(nameof(TrainerOptions.CheckpointInterval))]
    public void Each_invalid_option_is_named(string field)
    {
        var options = field switch
        {
            nameof(TrainerOptions.LearningRate) => new TrainerOptions { LearningRate = -1 },
            nameof(TrainerOptions.BatchSize) => new TrainerOptions { BatchSize = 0 },
            nameof(TrainerOptions.Epochs) => new TrainerOptions { Epochs = -1 },
            nameof(TrainerOptions.BpttWindow) => new TrainerOptions { BpttWindow = 0 },
            nameof(TrainerOptions.ClipNorm) => new TrainerOptions { ClipNorm = -2 },
            nameof(TrainerOptions.Beta1) => new TrainerOptions { Beta1 = 1.5 },
            _ => new TrainerOptions { CheckpointInterval = 0 },
        };
        var error = Assert.ThrowsAny<ArgumentException>(() => new Trainer(options));
        Assert.Equal(field, error.ParamName);
    }

    [Fact]
    public void Invalid_inputs_get_their_specific_exceptions()
    {
        var (model, data) = CharacterModel();
        Assert.Throws<ArgumentNullException>(() => new Trainer(Options(1)).Fit(null!, data));
        Assert.Throws<FileNotFoundException>(() => RecurrentModel.Load(Path.Combine(_folder, "missing.safetensors")));
        var garbage = Path.Combine(_folder, "garbage.safetensors");
        File.WriteAllBytes(garbage, new byte[] { 1, 2, 3 });
        Assert.Contains("garbage.safetensors", Assert.Throws<InvalidDataException>(() => RecurrentModel.Load(garbage)).Message);
        Assert.Contains("'#'", Assert.ThrowsAny<ArgumentException>(() => model.Sample("#", 3)).Message);
        Assert.Throws<InvalidOperationException>(() => new ModelBuilder().Gru(2).OneHot(3).PredictEveryStep(3).Build(1).Sample("a", 2));
        Assert.Contains("vocabulary has", Assert.Throws<ArgumentException>(() =>
            new ModelBuilder().Gru(2).OneHot(3).PredictEveryStep(3).Build(1, Vocabulary.FromCharacters("abcd"))).Message);
        Assert.Contains("shorter than one window", Assert.ThrowsAny<ArgumentException>(() =>
            SequenceDataset.ForLanguageModel("abc", Vocabulary.FromCharacters("abc"), windowLength: 5)).Message);
    }

    /// <summary>Reports on the calling thread, so a test sees every report before Fit returns.</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
