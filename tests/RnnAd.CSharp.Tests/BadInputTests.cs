using System.Text;

namespace RnnAd.CSharp.Tests;

/// <summary>Inputs a careless or hostile user gives the facade: each is a clear error naming what is wrong, never a wrong number.</summary>
public sealed class BadInputTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("rnnad-cs-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static RecurrentModel Classifier() => new ModelBuilder().Gru(4).Embedding(5, 2).ClassifyLastStep(3).Build(seed: 1);

    [Theory]
    [InlineData(3)]  // the class count: reading the next row would give a plausible, wrong loss
    [InlineData(-1)]
    public void Evaluating_a_label_outside_the_classes_is_refused_naming_it(int label)
    {
        var batch = SequenceBatch.ForClassification(new[] { new[] { 1, 2 }, new[] { 3 } }, new[] { 0, label });
        var error = Assert.Throws<ArgumentException>(() => Classifier().Evaluate(new[] { batch }));
        Assert.Contains($"target {label} at position 1 is outside [0, 3)", error.Message);
        // Validation inside Fit reads labels the same way.
        var data = SequenceDataset.FromBatches(new[] { SequenceBatch.ForClassification(new[] { new[] { 1 } }, new[] { 0 }) });
        var validation = SequenceDataset.FromBatches(new[] { batch });
        Assert.Throws<ArgumentException>(() => new Trainer(new TrainerOptions { Epochs = 1 }).Fit(Classifier(), data, validation));
    }

    [Fact]
    public void An_empty_dataset_is_refused_before_training()
    {
        var error = Assert.Throws<ArgumentException>(() =>
            SequenceDataset.ForClassification(Array.Empty<int[]>(), Array.Empty<int>()));
        Assert.Contains("at least one example", error.Message);
    }

    [Fact]
    public void A_checkpoint_whose_vocabulary_the_model_cannot_use_is_an_invalid_file()
    {
        var path = Path.Combine(_folder, "empty-token.safetensors");
        var vocabulary = Vocabulary.FromTokens(new[] { "a", "b", "c", "d", "e" }, TokenKind.Characters);
        new ModelBuilder().Gru(4).Embedding(5, 2).ClassifyLastStep(3).Build(seed: 1, vocabulary).Save(path);
        // Token "b" becomes "" in the stored JSON: same length (a space after it), so offsets stay valid.
        var bytes = File.ReadAllBytes(path);
        var text = Encoding.Latin1.GetString(bytes);
        var at = text.IndexOf("\\\"b\\\"", StringComparison.Ordinal);
        Assert.True(at > 0, "the vocabulary is stored as JSON text in the header");
        Encoding.Latin1.GetBytes("\\\"\\\" ").CopyTo(bytes, at);
        File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<InvalidDataException>(() => RecurrentModel.Load(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("vocabulary", error.Message);
    }

    [Fact]
    public void Loading_a_custom_part_needs_the_part_and_says_so()
    {
        var path = Path.Combine(_folder, "custom-loss.safetensors");
        // Only the name travels through the file; the loss is never computed here.
        var pinball = LossFunction.Custom("pinball", (outputs, targets, weights) => Tensor.Abs(outputs - targets));
        new ModelBuilder().Rnn(2).Features(1).PredictValuesLastStep(1).Loss(pinball).Build(seed: 1).Save(path);
        var error = Assert.Throws<InvalidDataException>(() => RecurrentModel.Load(path));
        Assert.Contains("'pinball'", error.Message);
        var loaded = RecurrentModel.Load(path, new ModelLoadOptions { CustomLosses = new[] { pinball } });
        Assert.Same(pinball, loaded.Description.Loss);
    }
}

/// <summary>Models moving in and out through streams and as PyTorch state dicts, as a C# program does it.</summary>
public sealed class InteropTests
{
    [Fact]
    public void A_model_saved_to_a_stream_loads_back_with_the_same_predictions()
    {
        var vocabulary = Vocabulary.FromTokens(new[] { "a", "b", "c", "d", "e" }, TokenKind.Characters);
        var model = new ModelBuilder().Lstm(4).Layers(2).Embedding(5, 3).PredictEveryStep(5).Build(seed: 3, vocabulary);
        using var stream = new MemoryStream();
        model.Save(stream);
        stream.Position = 0;
        var loaded = RecurrentModel.Load(stream);
        var batch = SequenceBatch.FromTokens(new[] { new[] { 1, 2, 3 } });
        Assert.Equal(model.PredictValues(batch)[0].SelectMany(r => r), loaded.PredictValues(batch)[0].SelectMany(r => r));
        Assert.Equal(model.Description, loaded.Description);
        Assert.Equal(vocabulary.Tokens, loaded.Vocabulary!.Tokens);
    }

    [Fact]
    public void A_PyTorch_state_dict_loads_with_what_its_weights_cannot_tell()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "state_dicts", "gru-embedding-bi-2layers-f32.safetensors");
        var error = Assert.Throws<InvalidDataException>(() => RecurrentModel.Load(path));
        Assert.Contains("give Output", error.Message);
        var model = RecurrentModel.Load(path, new ModelLoadOptions { Output = OutputMode.LastStep });
        Assert.Equal(CellType.Gru, model.Description.Cell);
        Assert.True(model.Description.Bidirectional);
        Assert.Equal(2, model.Description.Layers);
        Assert.Contains("rnn.weight_hh_l1_reverse", model.ParameterNames);
    }
}
