using Xunit.Abstractions;

namespace RnnAd.CSharp.Tests;

/// <summary>
/// A cell written in C#, end to end: trained through <see cref="Trainer"/> until it clearly learns, saved, loaded,
/// predicting the same bits, and gradient-checked against finite differences.
/// </summary>
public sealed class CustomCellTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("rnnad-cs-cell-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static readonly CustomCell Mgu = MinimalGatedUnit.Create();

    // "hello hello …": after an 'l' comes 'l' or 'o' depending on the letter before, so a model without memory
    // predicts at most 5 of the 6 characters of each "hello " (accuracy 0.833) and its loss stays at least
    // (2/6)·ln 2 = 0.231 (two of six steps are a coin toss for it).
    private static readonly string Text = string.Concat(Enumerable.Repeat("hello ", 20));

    private static (RecurrentModel Model, SequenceDataset Data, TrainingResult Result) Train(string? checkpoint = null)
    {
        var vocabulary = Vocabulary.FromCharacters(Text);
        var data = SequenceDataset.ForLanguageModel(Text, vocabulary, windowLength: 12, stride: 2);
        var model = new ModelBuilder().Cell(Mgu, hiddenSize: 16).Embedding(vocabulary.Count, embeddingSize: 4)
            .PredictEveryStep(vocabulary.Count).Build(seed: 7, vocabulary);
        var options = new TrainerOptions { LearningRate = 0.02, Epochs = 40, BatchSize = 8, ClipNorm = 1.0, Seed = 1, CheckpointPath = checkpoint };
        return (model, data, new Trainer(options).Fit(model, data));
    }

    [Fact]
    public void The_cell_has_its_parameters_under_PyTorch_style_names()
    {
        var model = new ModelBuilder().Cell(Mgu, hiddenSize: 3).Features(2).Layers(2).PredictValuesEveryStep(1).Build(seed: 1);
        Assert.Equal(new[] { 6, 2 }, model.GetParameterShape("rnn.weight_ih_l0"));
        Assert.Equal(new[] { 6, 3 }, model.GetParameterShape("rnn.weight_ih_l1")); // layer 1 reads layer 0's h
        Assert.Equal(new[] { 3, 3 }, model.GetParameterShape("rnn.weight_hn_l1"));
        Assert.Equal(new double[6], model.GetParameterValues("rnn.bias_l0"));      // ParameterInit.Zeros
        Assert.Equal(CellType.Custom, model.Description.Cell);
        Assert.Same(Mgu, model.Description.CustomCell);
    }

    [Fact]
    public void It_trains_saves_loads_predicts_the_same_bits_and_passes_a_gradient_check()
    {
        var checkpoint = Path.Combine(_folder, "training.safetensors");
        var (initial, data, result) = Train(checkpoint);
        var trained = result.Model;
        var batches = data.GetBatches(64);
        var before = initial.Evaluate(batches);
        var after = trained.Evaluate(batches);
        output.WriteLine($"MGU on 'hello': loss {before.Loss:F4} -> {after.Loss:F4}, accuracy {before.Accuracy:F3} -> {after.Accuracy:F3} over {result.Epochs.Count} epochs");
        // Beyond what any model without memory reaches (accuracy 0.833, loss 0.231): the cell carries state.
        Assert.True(after.Accuracy >= 0.95, $"accuracy {after.Accuracy}");
        Assert.True(after.Loss < 0.1, $"loss {after.Loss}");
        Assert.Equal("lo hello hello", trained.Sample("hello hel", length: 14, temperature: 0));

        var path = Path.Combine(_folder, "mgu.safetensors");
        trained.Save(path);
        var options = new ModelLoadOptions { CustomCells = [Mgu] };
        var loaded = RecurrentModel.Load(path, options);
        Assert.Same(Mgu, loaded.Description.CustomCell);
        Assert.Equal(trained.Description, loaded.Description);
        foreach (var name in trained.ParameterNames) Assert.Equal(trained.GetParameterValues(name), loaded.GetParameterValues(name));
        var probe = SequenceBatch.FromTokens([trained.Vocabulary!.Encode("hello hel"), trained.Vocabulary.Encode("lo h")]);
        Assert.Equal(trained.PredictValues(probe), loaded.PredictValues(probe));
        Assert.Equal(trained.Sample("he", 20, temperature: 0.8, seed: 3), loaded.Sample("he", 20, temperature: 0.8, seed: 3));
        // The trainer's own checkpoint holds the same model.
        var fromTraining = RecurrentModel.Load(checkpoint, options);
        foreach (var name in trained.ParameterNames) Assert.Equal(trained.GetParameterValues(name), fromTraining.GetParameterValues(name));

        // The hand-derived BPTT knows only the built-in cells: the check compares AD with finite differences, after
        // training (where the gates saturate) as well as at the start. Tolerances are the defaults: 1e-6 relative,
        // floor 1e-2. A batch of 8 windows keeps the rounding noise of the finite differences (which grows with the
        // number of terms summed into the loss; measured 5.9e-9 absolute over all 54 windows, 1e-9 over 8) well below the
        // 1e-8 allowed.
        var batch = data.GetBatches(8)[0];
        foreach (var (label, model) in new[] { ("initial", initial), ("trained", trained) })
        {
            var report = GradientCheck.Compare(model, batch);
            output.WriteLine($"{label}: {report.Reference}, worst relative error {report.FiniteDifferences[0].MaxRelativeError:E2}");
            Assert.StartsWith("finite differences", report.Reference);
            Assert.Null(report.AdVsBptt);
            Assert.Null(report.BpttLoss);
            Assert.True(report.Passed, report.ToString());
            Assert.True(report.FiniteDifferences[0].MaxRelativeError < 1e-6);
        }
    }

    [Fact]
    public void Stacked_bidirectional_padded_models_of_the_cell_pass_the_gradient_check()
    {
        // Layers, both directions and padding are RnnAd's work around the step; they must differentiate correctly too.
        var model = new ModelBuilder().Cell(Mgu, hiddenSize: 3).Layers(2).Bidirectional().Features(2).ClassifyLastStep(3).Build(seed: 5);
        var rng = new Random(9);
        double[][] Sequence(int length) => Enumerable.Range(0, length).Select(_ => new[] { rng.NextDouble() * 2 - 1, rng.NextDouble() * 2 - 1 }).ToArray();
        var batch = SequenceBatch.FromFeatures([Sequence(5), Sequence(2), Sequence(4)], [0, 2, 1]);
        var report = GradientCheck.Compare(model, batch);
        output.WriteLine($"2 layers, bidirectional, padded: worst relative error {report.FiniteDifferences[0].MaxRelativeError:E2}");
        Assert.True(report.Passed, report.ToString());
        Assert.Contains("rnn.weight_hf_l1_reverse", report.FiniteDifferences[0].Rows.Select(r => r.Parameter));
    }

    [Fact]
    public void Loading_without_the_cell_names_it()
    {
        var model = new ModelBuilder().Cell(Mgu, hiddenSize: 4).Features(1).PredictValuesLastStep(1).Build(seed: 1);
        var path = Path.Combine(_folder, "mgu.safetensors");
        model.Save(path);
        var error = Assert.Throws<InvalidDataException>(() => RecurrentModel.Load(path));
        Assert.Contains("'MGU'", error.Message);
        Assert.Contains("custom cell", error.Message);
        // Another cell of another name does not stand in for it.
        var other = new CustomCell("Other", Mgu.Parameters, 1, (p, s, x) => [s[0]]);
        Assert.Contains("'MGU'", Assert.Throws<InvalidDataException>(() => RecurrentModel.Load(path, new ModelLoadOptions { CustomCells = [other] })).Message);
    }
}
