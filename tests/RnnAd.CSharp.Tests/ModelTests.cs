namespace RnnAd.CSharp.Tests;

public class ModelTests
{
    private static RecurrentModel SmallLanguageModel(int seed = 1) =>
        new ModelBuilder().Gru(8).Layers(2).Embedding(5, 3).PredictEveryStep(5).Build(seed);

    [Fact]
    public void Parameters_have_PyTorch_names_and_shapes()
    {
        var model = new ModelBuilder().Lstm(4).Bidirectional().OneHot(3).ClassifyLastStep(2).Build(seed: 1);
        Assert.Equal(
            new[]
            {
                "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
                "rnn.weight_ih_l0_reverse", "rnn.weight_hh_l0_reverse", "rnn.bias_ih_l0_reverse", "rnn.bias_hh_l0_reverse",
                "fc.weight", "fc.bias",
            },
            model.ParameterNames);
        Assert.Equal(new[] { 16, 3 }, model.GetParameterShape("rnn.weight_ih_l0")); // 4 gates × hidden 4, input 3
        Assert.Equal(new[] { 2, 8 }, model.GetParameterShape("fc.weight"));        // forward ‖ backward = 8 features
        Assert.Equal(2 * (16 * 3 + 16 * 4 + 16 + 16) + 2 * 8 + 2, model.ParameterCount);
    }

    [Fact]
    public void A_bias_free_model_has_PyTorchs_bias_false_layout_and_keeps_it_through_a_checkpoint()
    {
        var model = new ModelBuilder().Gru(3).WithoutCellBias().Layers(2).Embedding(5, 2).PredictEveryStep(5).Build(seed: 2);
        Assert.False(model.Description.CellBias);
        Assert.Equal(
            new[] { "embedding.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.weight_ih_l1", "rnn.weight_hh_l1", "fc.weight", "fc.bias" },
            model.ParameterNames);
        var batch = SequenceBatch.FromTokens(new[] { new[] { 0, 1, 2, 3 }, new[] { 4, 3, 2, 1 } }, new[] { new[] { 1, 2, 3, 4 }, new[] { 3, 2, 1, 0 } });
        var report = GradientCheck.Compare(model, batch);
        Assert.True(report.Passed, report.ToString());
        using var stream = new MemoryStream();
        model.Save(stream);
        stream.Position = 0;
        var loaded = RecurrentModel.Load(stream);
        Assert.Equal(model.Description, loaded.Description);
        foreach (var name in model.ParameterNames) Assert.Equal(model.GetParameterValues(name), loaded.GetParameterValues(name));
        var custom = new ModelDescription { Cell = CellType.Custom, CustomCell = MinimalGatedUnit.Create(), CellBias = false, InputSize = 3, Outputs = 2 };
        Assert.Equal("CellBias", Assert.Throws<ArgumentException>(() => RecurrentModel.Create(custom, 1)).ParamName);
    }

    [Fact]
    public void Same_seed_gives_the_same_bits_and_another_seed_other_values()
    {
        var a = SmallLanguageModel(7);
        var b = SmallLanguageModel(7);
        var c = SmallLanguageModel(8);
        foreach (var name in a.ParameterNames)
        {
            Assert.Equal(a.GetParameterValues(name), b.GetParameterValues(name));
            Assert.NotEqual(a.GetParameterValues(name), c.GetParameterValues(name));
        }
    }

    [Fact]
    public void WithParameter_replaces_one_parameter_and_checks_its_size()
    {
        var model = SmallLanguageModel();
        var zeros = new double[5];
        var changed = model.WithParameter("fc.bias", zeros);
        Assert.Equal(zeros, changed.GetParameterValues("fc.bias"));
        Assert.NotEqual(zeros, model.GetParameterValues("fc.bias")); // the original is unchanged
        var error = Assert.Throws<ArgumentException>(() => model.WithParameter("fc.bias", new double[4]));
        Assert.Contains("fc.bias", error.Message);
        Assert.Contains("(5,)", error.Message);
        var missing = Assert.Throws<ArgumentException>(() => model.GetParameterValues("fc.weights"));
        Assert.Contains("fc.weights", missing.Message);
    }

    [Theory]
    [InlineData(0, 8, 1, "InputSize")]
    [InlineData(5, 0, 1, "HiddenSize")]
    [InlineData(5, 8, 0, "Layers")]
    public void Invalid_descriptions_name_the_field(int inputSize, int hidden, int layers, string field)
    {
        var description = new ModelDescription { InputSize = inputSize, HiddenSize = hidden, Layers = layers, Outputs = 3 };
        var error = Assert.Throws<ArgumentException>(() => RecurrentModel.Create(description, 1));
        Assert.Equal(field, error.ParamName);
    }

    [Fact]
    public void Predict_leaves_out_padded_steps()
    {
        var model = SmallLanguageModel();
        var batch = SequenceBatch.FromTokens(new[] { new[] { 1, 2, 3 }, new[] { 4 } }, new[] { new[] { 2, 3, 4 }, new[] { 0 } });
        var predictions = model.Predict(batch);
        Assert.Equal(3, predictions[0].Length);
        Assert.Single(predictions[1]);
        Assert.All(predictions.SelectMany(p => p), c => Assert.InRange(c, 0, 4));
    }

    [Fact]
    public void Batches_reject_mismatched_or_empty_input_by_name()
    {
        Assert.Contains("Sequence 1 is empty", Assert.Throws<ArgumentException>(() =>
            SequenceBatch.ForClassification(new[] { new[] { 1 }, Array.Empty<int>() }, new[] { 0, 1 })).Message);
        Assert.Contains("Target sequence 0 has 1 steps, its input has 2", Assert.Throws<ArgumentException>(() =>
            SequenceBatch.FromTokens(new[] { new[] { 1, 2 } }, new[] { new[] { 1 } })).Message);
        Assert.Contains("3 labels for 2 sequences", Assert.Throws<ArgumentException>(() =>
            SequenceBatch.ForClassification(new[] { new[] { 1 }, new[] { 2 } }, new[] { 0, 1, 1 })).Message);
        var model = SmallLanguageModel();
        var outside = Assert.Throws<ArgumentException>(() => model.Predict(SequenceBatch.FromTokens(new[] { new[] { 9 } }, new[] { new[] { 0 } })));
        Assert.Contains("token id 9", outside.Message);
    }
}
