using System.Reflection;
using System.Text.RegularExpressions;

namespace RnnAd.CSharp.Tests;

/// <summary>
/// What a trainer must never do: lose a trained model to an unwritable checkpoint, resume a run with changed inputs, or name the F#
/// core's fields in a C# program's errors. And what data and models carry: splits, CSV files, class names.
/// </summary>
public sealed class TrainerReliabilityTests : IDisposable
{
    private const string Text = "the quick brown fox jumps over the lazy dog. ";
    private readonly string _folder = Directory.CreateTempSubdirectory("rnnad-rel-").FullName;

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    private static readonly Vocabulary Characters = Vocabulary.FromCharacters(Text);

    private static RecurrentModel Model() =>
        new ModelBuilder().Gru(12).Embedding(Characters.Count, 5).PredictEveryStep(Characters.Count).Build(1, Characters);

    private static SequenceDataset Data(string text = Text) =>
        SequenceDataset.ForLanguageModel(string.Concat(Enumerable.Repeat(text, 4)), Characters, windowLength: 12, stride: 6);

    private static TrainerOptions Options(int epochs) => new() { LearningRate = 0.02, Epochs = epochs, BatchSize = 8, Seed = 3 };

    private static void SameParameters(RecurrentModel expected, RecurrentModel actual, string what)
    {
        foreach (var name in expected.ParameterNames)
            Assert.True(expected.GetParameterValues(name).SequenceEqual(actual.GetParameterValues(name)), $"{what}: {name} differs");
    }

    // ---- 10: the checkpoint path is checked before training, and a failed save never loses the model ----

    [Fact]
    public void A_checkpoint_path_that_cannot_be_written_is_refused_before_any_step()
    {
        var steps = 0;
        Trainer Counting(string path)
        {
            var trainer = new Trainer(Options(3) with { CheckpointPath = path });
            trainer.StepCompleted += (_, _) => steps++;
            return trainer;
        }
        var missing = Path.Combine(_folder, "missing", "run.safetensors");
        Assert.Contains("missing", Assert.Throws<DirectoryNotFoundException>(() => Counting(missing).Fit(Model(), Data())).Message);
        var directory = Directory.CreateDirectory(Path.Combine(_folder, "run.safetensors")).FullName;
        Assert.Contains("directory", Assert.Throws<IOException>(() => Counting(directory).Fit(Model(), Data())).Message);
        // The best checkpoint's place beside it is checked too.
        Directory.CreateDirectory(Path.Combine(_folder, "other.best.safetensors"));
        Assert.Contains("other.best.safetensors", Assert.Throws<IOException>(() => Counting(Path.Combine(_folder, "other.safetensors")).Fit(Model(), Data())).Message);
        Assert.Equal(0, steps);
    }

    [Fact]
    public void A_save_that_fails_after_training_throws_with_the_trained_model()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_folder, "vanishing")).FullName;
        var path = Path.Combine(folder, "run.safetensors");
        var trainer = new Trainer(Options(3) with { CheckpointPath = path, CheckpointInterval = 1000 });
        // The folder goes away once the last epoch is done: the final save finds nowhere to write.
        trainer.EpochCompleted += (_, e) => { if (e.Epoch.Epoch == 2) Directory.Delete(folder, recursive: true); };
        var error = Assert.Throws<CheckpointSaveException>(() => trainer.Fit(Model(), Data()));
        Assert.IsAssignableFrom<IOException>(error);
        Assert.Equal(path, error.Path);
        Assert.Equal(3, error.Epochs.Count);
        SameParameters(new Trainer(Options(3)).Fit(Model(), Data()).Model, error.Model!, "the trained model");
    }

    [Fact]
    public void A_save_that_fails_during_training_throws_with_the_model_it_was_to_hold()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_folder, "gone")).FullName;
        var trainer = new Trainer(Options(3) with { CheckpointPath = Path.Combine(folder, "run.safetensors"), CheckpointInterval = 3 });
        trainer.StepCompleted += (_, e) => { if (e.Progress.Step == 2) Directory.Delete(folder, recursive: true); };
        var error = Assert.Throws<CheckpointSaveException>(() => trainer.Fit(Model(), Data()));
        Assert.Contains("after step 3", error.Message);
        SameParameters(new Trainer(Options(3) with { MaxSteps = 3 }).Fit(Model(), Data()).Model, error.Model!, "the model after step 3");
    }

    // ---- 11: a resume refuses changed inputs, naming them ----

    [Fact]
    public void Resume_refuses_changed_options_and_data_naming_them_and_allows_the_limits_to_change()
    {
        var path = Path.Combine(_folder, "run.safetensors");
        var options = Options(2) with { CheckpointPath = path };
        new Trainer(options).Fit(Model(), Data());
        ArgumentException Refused(TrainerOptions changed, SequenceDataset? data = null) =>
            Assert.Throws<ArgumentException>(() => new Trainer(changed).Resume(path, data ?? Data()));
        var batchSize = Refused(options with { Epochs = 3, BatchSize = 4 });
        Assert.Equal("BatchSize", batchSize.ParamName);
        Assert.Contains("BatchSize is 4, but the run used 8", batchSize.Message);
        Assert.Equal("LearningRate", Refused(options with { Epochs = 3, LearningRate = 0.5 }).ParamName);
        Assert.Equal("BpttWindow", Refused(options with { Epochs = 3, BpttWindow = 3 }).ParamName);
        Assert.Equal("Schedule", Refused(options with { Epochs = 3, Schedule = LearningRateSchedule.Cosine }).ParamName);
        var data = Refused(options with { Epochs = 3 }, Data("the quick brown cat jumps over the lazy dog. "));
        Assert.Equal("training", data.ParamName);
        Assert.Contains("the training data changed", data.Message);
        // Epochs, steps and time decide when a run stops, not its updates: a constant schedule goes on.
        Assert.Equal(3, new Trainer(options with { Epochs = 3, MaxSteps = 100 }).Resume(path, Data()).Epochs[^1].Epoch + 1);
        // A cosine's length is counted from the epochs, so there they shape the run.
        var cosine = Options(2) with { CheckpointPath = Path.Combine(_folder, "cosine.safetensors"), Schedule = LearningRateSchedule.Cosine };
        new Trainer(cosine).Fit(Model(), Data());
        Assert.Equal("Epochs", Assert.Throws<ArgumentException>(() => new Trainer(cosine with { Epochs = 4 }).Resume(cosine.CheckpointPath!, Data())).ParamName);
    }

    // ---- 14: errors name the C# properties ----

    /// <summary>Values that are out of range for some property of each type.</summary>
    private static readonly Dictionary<Type, object?[]> BadValues = new()
    {
        [typeof(double)] = new object?[] { -1.0, 0.0, 1.0, 1.5, double.NaN, double.PositiveInfinity },
        [typeof(double?)] = new object?[] { -1.0, 0.0, 1.0, double.NaN, double.PositiveInfinity },
        [typeof(int)] = new object?[] { -1, 0, int.MinValue },
        [typeof(int?)] = new object?[] { -1, 0 },
        [typeof(long?)] = new object?[] { -1L, 0L },
        [typeof(TimeSpan?)] = new object?[] { TimeSpan.Zero, TimeSpan.FromSeconds(-1) },
        [typeof(OptimizerType)] = new object?[] { (OptimizerType)99 },
        [typeof(LearningRateSchedule)] = new object?[] { (LearningRateSchedule)99 },
        [typeof(MonitoredMetric)] = new object?[] { (MonitoredMetric)99 },
        [typeof(string)] = new object?[] { " " },
        [typeof(bool)] = new object?[] { true },
    };

    [Fact]
    public void Every_invalid_option_is_named_by_its_C_sharp_property()
    {
        var refused = new HashSet<string>();
        foreach (var property in typeof(TrainerOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        foreach (var value in BadValues[property.PropertyType])
        {
            // Each schedule's own options are read only under it; set it so that they are checked.
            var options = new TrainerOptions() with { Schedule = ScheduleReading(property.Name) };
            var changed = options with { };
            property.SetValue(changed, value);
            try
            {
                new Trainer(changed);
            }
            catch (ArgumentException e)
            {
                Assert.True(e.ParamName == property.Name, $"{property.Name} = {value}: ParamName is '{e.ParamName}' ({e.Message})");
                Assert.Contains(property.Name, e.Message);
                refused.Add(property.Name);
            }
        }
        // Every option but the seed (any int is one), Shuffle and RestoreBestWeights (either value is valid) has a value it refuses.
        var expected = typeof(TrainerOptions).GetProperties().Where(p => p.CanWrite).Select(p => p.Name)
            .Except(new[] { nameof(TrainerOptions.Seed), nameof(TrainerOptions.Shuffle), nameof(TrainerOptions.RestoreBestWeights) });
        Assert.Empty(expected.Except(refused));
    }

    private static LearningRateSchedule ScheduleReading(string property) => property switch
    {
        nameof(TrainerOptions.ScheduleStepSize) or nameof(TrainerOptions.ScheduleGamma) => LearningRateSchedule.Step,
        nameof(TrainerOptions.ExponentialDecay) => LearningRateSchedule.Exponential,
        nameof(TrainerOptions.RestartPeriod) or nameof(TrainerOptions.RestartPeriodFactor) => LearningRateSchedule.CosineWarmRestarts,
        nameof(TrainerOptions.OneCycleWarmupFraction) or nameof(TrainerOptions.OneCycleDivFactor) or nameof(TrainerOptions.OneCycleFinalDivFactor) => LearningRateSchedule.OneCycle,
        nameof(TrainerOptions.Schedule) => LearningRateSchedule.Constant,
        _ => LearningRateSchedule.ReduceOnPlateau,
    };

    [Fact]
    public void Gradient_check_errors_name_the_C_sharp_options()
    {
        var model = Model();
        var batch = Data().GetBatches(2)[0];
        var error = Assert.Throws<ArgumentException>(() =>
            GradientCheck.Compare(model, batch, new GradientCheckOptions { BpttWindow = 3, IncludeFiniteDifferences = true }));
        Assert.Contains("BpttWindow 3", error.Message);
        Assert.Contains("turn IncludeFiniteDifferences off", error.Message);
        Assert.DoesNotMatch(@"\bDetachEvery\b|\bFiniteDifferences\b", error.Message);
        Assert.Equal("bpttWindow", Assert.Throws<ArgumentException>(() => GradientCheck.ComputeAd(model, batch, bpttWindow: 0)).ParamName);
    }

    [Fact]
    public void The_training_exceptions_have_public_constructors()
    {
        foreach (var type in new[] { typeof(TrainingDivergedException), typeof(TrainingCanceledException), typeof(CheckpointSaveException) })
        {
            var signatures = type.GetConstructors().Select(c => string.Join(",", c.GetParameters().Select(p => p.ParameterType.Name))).ToArray();
            Assert.Contains("", signatures);
            Assert.Contains("String", signatures);
            Assert.Contains("String,Exception", signatures);
        }
        var model = Model();
        var diverged = new TrainingDivergedException("lost at step 3", model);
        Assert.Same(model, diverged.LastGoodModel);
        Assert.Equal("lost at step 3", diverged.Message);
        Assert.Null(new TrainingDivergedException("m").LastGoodModel);
    }

    // ---- data and what models carry ----

    [Fact]
    public void A_random_split_is_the_seed_s_and_disjoint()
    {
        var data = Data();
        var (train, validation) = data.SplitRandomly(0.75, seed: 4);
        Assert.Equal(data.Count, train.Count + validation.Count);
        Assert.Equal((int)Math.Round(data.Count * 0.75), train.Count);
        var again = data.SplitRandomly(0.75, seed: 4).Validation.GetBatches(100)[0];
        var model = Model();
        Assert.Equal(model.Evaluate(validation.GetBatches(100)).Loss, model.Evaluate(new[] { again }).Loss);
        Assert.NotEqual(model.Evaluate(validation.GetBatches(100)).Loss, model.Evaluate(data.SplitRandomly(0.75, seed: 5).Validation.GetBatches(100)).Loss);
    }

    [Fact]
    public void Labelled_texts_from_CSV_train_a_classifier_that_carries_its_class_names_through_checkpoints()
    {
        var csv = Path.Combine(_folder, "reviews.csv");
        File.WriteAllLines(csv, new[] { "text,label" }.Concat(Enumerable.Range(0, 24).Select(i => i % 2 == 0 ? $"good fun,pos" : "\"bad, dull\",neg")));
        var reviews = CsvData.ReadLabelledText(csv, "text", "label");
        Assert.Equal(new[] { "neg", "pos" }, reviews.ClassNames);
        var vocabulary = Vocabulary.FromWords(reviews.Texts);
        var data = SequenceDataset.ForClassification(reviews.Texts, reviews.Labels, vocabulary);
        var model = new ModelBuilder().Gru(6).Embedding(vocabulary.Count, 4).ClassifyLastStep(2).Build(2, vocabulary).WithClassNames(reviews.ClassNames);
        var path = Path.Combine(_folder, "classifier.safetensors");
        var result = new Trainer(Options(15) with { BatchSize = 6, CheckpointPath = path }).Fit(model, data, data);
        var figures = result.Model.Evaluate(data.GetBatches(24));
        Assert.Equal(1.0, figures.Accuracy);
        Assert.Equal(new[] { "neg", "pos" }, figures.Classes!.Select(c => c.Name));
        Assert.Equal(new long[] { 12, 0, 0, 12 }, figures.ConfusionMatrix!.Cast<long>());
        Assert.Equal(1.0, figures.MacroF1);
        Assert.Equal(new[] { "neg", "pos" }, RecurrentModel.Load(path).ClassNames);
        var saved = Path.Combine(_folder, "model.safetensors");
        result.Model.Save(saved);
        Assert.Equal(new[] { "neg", "pos" }, RecurrentModel.Load(saved).ClassNames);
        Assert.Equal("classNames", Assert.Throws<ArgumentException>(() => model.WithClassNames(new[] { "only one" })).ParamName);
    }

    [Fact]
    public void A_series_from_CSV_feeds_a_forecaster_whose_R2_is_reported()
    {
        var csv = Path.Combine(_folder, "series.csv");
        File.WriteAllLines(csv, new[] { "t,value" }.Concat(Enumerable.Range(0, 60).Select(t => $"{t},{Math.Sin(t / 3.0).ToString("R", System.Globalization.CultureInfo.InvariantCulture)}")));
        var series = CsvData.ReadSeries(csv, "value");
        Assert.Equal(60, series.Length);
        var data = SequenceDataset.ForForecasting(series.Select(r => r[0]).ToArray(), windowLength: 6, horizon: 1);
        var model = new ModelBuilder().Gru(8).Features(1).PredictValuesLastStep(1).Build(1);
        var result = new Trainer(Options(30) with { BatchSize = 16, LearningRate = 0.03 }).Fit(model, data, data);
        var figures = result.Epochs[^1].Validation!;
        Assert.True(figures.R2 > 0.9, $"R² {figures.R2}");
        Assert.Null(figures.Accuracy);
        Assert.Null(figures.Classes);
        Assert.Contains("line 3", Assert.Throws<InvalidDataException>(() =>
        {
            File.WriteAllText(csv, "value\n1\nx\n");
            CsvData.ReadSeries(csv, "value");
        }).Message);
    }
}
