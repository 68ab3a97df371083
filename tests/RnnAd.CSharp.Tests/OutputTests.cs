namespace RnnAd.CSharp.Tests;

/// <summary>Everything a trained model gives back besides its winning class, as a C# program reads it.</summary>
public class OutputTests
{
    private static readonly int[][] Tokens = { new[] { 1, 2, 3, 4 }, new[] { 4, 0 } };

    private static RecurrentModel Classifier(bool bidirectional = false) =>
        new ModelBuilder().Lstm(6).Layers(2).Bidirectional(bidirectional).Embedding(5, 3).PredictEveryStep(5).Build(seed: 3);

    [Fact]
    public void Probabilities_are_the_softmax_of_the_values_and_predictions_their_argmax()
    {
        var model = Classifier();
        var batch = SequenceBatch.FromTokens(Tokens);
        var values = model.PredictValues(batch);
        var probabilities = model.PredictProbabilities(batch);
        var classes = model.Predict(batch);
        Assert.Equal(new[] { 4, 2 }, values.Select(s => s.Length));  // the padded steps of sequence 1 are left out
        for (var i = 0; i < values.Count; i++)
            for (var t = 0; t < values[i].Length; t++)
            {
                // softmax(z)_c = exp(z_c) / Σ exp(z); worked here independently of the library's own code.
                var z = values[i][t];
                var expected = z.Select(v => Math.Exp(v) / z.Sum(u => Math.Exp(u))).ToArray();
                Assert.Equal(expected, probabilities[i][t], (a, b) => Math.Abs(a - b) <= 1e-15);
                Assert.Equal(Array.IndexOf(z, z.Max()), classes[i][t]);
            }
    }

    [Fact]
    public void Prediction_needs_no_labels_and_ignores_any_given()
    {
        var model = Classifier();
        var unlabelled = model.PredictValues(SequenceBatch.FromTokens(Tokens));
        var labelled = model.PredictValues(SequenceBatch.FromTokens(Tokens, new[] { new[] { 0, 0, 0, 0 }, new[] { 1, 1 } }));
        Assert.Equal(unlabelled.SelectMany(s => s.SelectMany(r => r)), labelled.SelectMany(s => s.SelectMany(r => r)));
    }

    [Fact]
    public void Hidden_states_are_the_top_layer_every_step_both_directions_side_by_side()
    {
        var model = Classifier(bidirectional: true);
        var states = model.HiddenStates(SequenceBatch.FromTokens(Tokens));
        Assert.Equal(new[] { 4, 2 }, states.Select(s => s.Length));
        Assert.All(states.SelectMany(s => s), row => Assert.Equal(12, row.Length)); // 6 forward ‖ 6 backward
        Assert.All(states.SelectMany(s => s.SelectMany(r => r)), v => Assert.InRange(v, -1.0, 1.0)); // o ⊙ tanh c
    }

    [Fact]
    public void Final_states_follow_PyTorchs_h_n_and_c_n_layout()
    {
        var model = Classifier(bidirectional: true);
        var batch = SequenceBatch.FromTokens(Tokens);
        var final = model.FinalStates(batch);
        Assert.Equal(new[] { 4, 2, 6 }, final.H.Shape); // layers · directions, batch, hidden
        Assert.Equal(new[] { 4, 2, 6 }, final.C!.Shape);
        // h_n[2] is the top layer's forward direction after the last real step: the first half of its hidden state there.
        var hidden = model.HiddenStates(batch);
        var h = final.H.ToArray();
        for (var i = 0; i < 2; i++)
            Assert.Equal(hidden[i][^1][..6], h.AsSpan((2 * 2 + i) * 6, 6).ToArray());
        // h_n[3], the top layer's backward direction, ends at step 0.
        for (var i = 0; i < 2; i++)
            Assert.Equal(hidden[i][0][6..], h.AsSpan((3 * 2 + i) * 6, 6).ToArray());
    }

    [Fact]
    public void A_stream_fed_in_pieces_gives_the_bits_of_one_call()
    {
        var model = new ModelBuilder().Gru(5).Layers(2).Features(2).PredictValuesEveryStep(3).Build(seed: 4);
        var rng = new Random(5);
        var sequence = Enumerable.Range(0, 9).Select(_ => new[] { rng.NextDouble(), rng.NextDouble() }).ToArray();
        var whole = model.PredictValues(SequenceBatch.FromFeatures(new[] { sequence }))[0];
        var stream = model.OpenStream();
        var pieces = new[] { sequence[..2], sequence[2..7], sequence[7..] }
            .SelectMany(piece => stream.Feed(SequenceBatch.FromFeatures(new[] { piece }))[0]).ToArray();
        Assert.Equal(whole.SelectMany(r => r), pieces.SelectMany(r => r));
        Assert.Equal(model.FinalStates(SequenceBatch.FromFeatures(new[] { sequence })).H.ToArray(), stream.State!.H.ToArray());
        stream.Reset();
        Assert.Null(stream.State);
        Assert.Throws<InvalidOperationException>(() => Classifier(bidirectional: true).OpenStream());
    }

    [Fact]
    public void A_regression_model_has_values_but_no_probabilities()
    {
        var model = new ModelBuilder().Rnn(4).Features(1).PredictValuesLastStep(2).Build(seed: 1);
        var batch = SequenceBatch.FromFeatures(new[] { new[] { new[] { 0.5 }, new[] { -0.5 } } });
        Assert.Single(model.PredictValues(batch)[0]);
        Assert.Equal(2, model.PredictValues(batch)[0][0].Length);
        Assert.Throws<InvalidOperationException>(() => model.PredictProbabilities(batch));
    }

    [Fact]
    public void A_multi_label_model_gives_one_independent_probability_per_label()
    {
        var model = new ModelBuilder().Gru(4).Embedding(5, 2).ClassifyLastStep(3).Loss(LossFunction.BinaryCrossEntropy).Build(seed: 2);
        Assert.Equal(OutputMode.LastStep, model.Description.Output);
        var batch = SequenceBatch.FromTokens(Tokens);
        var z = model.PredictValues(batch);
        var p = model.PredictProbabilities(batch);
        for (var i = 0; i < 2; i++)
            for (var c = 0; c < 3; c++)
                Assert.Equal(1 / (1 + Math.Exp(-z[i][0][c])), p[i][0][c], 15);
    }
}
