namespace RnnAd.CSharp.Tests;

/// <summary>Real-valued targets: forecasting windows, regression losses, their metrics and the forecasting example.</summary>
public sealed class RegressionTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("rnnad-cs-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Forecasting_windows_read_a_window_and_target_the_next_values()
    {
        var series = Enumerable.Range(0, 10).Select(t => (double)t).ToArray();
        var data = SequenceDataset.ForForecasting(series, windowLength: 4, horizon: 2, stride: 2);
        // Windows start at 0, 2, 4 (4 + 4 + 2 = 10 values): inputs 0..3 → targets 4, 5; 2..5 → 6, 7; 4..7 → 8, 9.
        Assert.Equal(3, data.Count);
        var model = new ModelBuilder().Rnn(2).Features(1).PredictValuesLastStep(2).Build(seed: 1);
        var batch = data.GetBatches(3)[0];
        Assert.Equal(3, batch.Count);
        Assert.Equal(4, batch.Length);
        // The targets are only seen through the loss: a model whose outputs are forced to the targets scores 0.
        var exact = model.WithParameter("fc.weight", new double[4]).WithParameter("fc.bias", new[] { 4.0, 5.0 });
        var first = SequenceDataset.ForForecasting(series[..6], windowLength: 4, horizon: 2);
        Assert.Equal(0.0, exact.Evaluate(first.GetBatches(1)).Loss);
    }

    [Fact]
    public void Forecasting_windows_refuse_what_cannot_make_a_window()
    {
        Assert.Contains("shorter than one window of 8 plus a horizon of 3", Assert.Throws<ArgumentException>(() =>
            SequenceDataset.ForForecasting(new double[10], 8, 3)).Message);
        Assert.Equal("horizon", Assert.Throws<ArgumentException>(() => SequenceDataset.ForForecasting(new double[10], 2, 0)).ParamName);
        Assert.Contains("Feature 0 of step 1 of sequence 0 is NaN", Assert.Throws<ArgumentException>(() =>
            SequenceDataset.ForForecasting(new[] { 1.0, double.NaN, 2, 3, 4 }, 2, 1)).Message);
    }

    [Fact]
    public void A_chronological_split_keeps_order_and_the_gap()
    {
        var data = SequenceDataset.ForForecasting(Enumerable.Range(0, 30).Select(t => (double)t).ToArray(), 4, 1);
        var (train, validation) = data.SplitChronologically(0.5, gap: 4);
        Assert.Equal(26, data.Count);
        Assert.Equal(13, train.Count);
        Assert.Equal(9, validation.Count);
        var model = new ModelBuilder().Rnn(2).Features(1).PredictValuesLastStep(1).Build(seed: 1);
        // Window k reads k … k + 3 and targets k + 4: a model with zero weights and bias b scores (b − (k + 4))².
        var probe = model.WithParameter("fc.weight", new double[2]).WithParameter("fc.bias", new[] { 0.0 });
        var trainTargets = Enumerable.Range(0, 13).Select(k => (double)(k + 4)).ToArray();
        Assert.Equal(trainTargets.Average(t => t * t), probe.Evaluate(train.GetBatches(100)).Loss, 10);
        var validationTargets = Enumerable.Range(17, 9).Select(k => (double)(k + 4)).ToArray();
        Assert.Equal(validationTargets.Average(t => t * t), probe.Evaluate(validation.GetBatches(100)).Loss, 10);
    }

    [Fact]
    public void A_value_model_trains_to_low_error_and_reports_rmse_and_mae()
    {
        // y_t = 0.8·x_t: a per-step regression an RNN learns quickly.
        var rng = new Random(3);
        var inputs = Enumerable.Range(0, 32).Select(_ => Enumerable.Range(0, 6).Select(_ => new[] { rng.NextDouble() * 2 - 1 }).ToArray()).ToArray();
        var targets = inputs.Select(s => s.Select(x => new[] { 0.8 * x[0] }).ToArray()).ToArray();
        var data = SequenceDataset.FromBatches(new[] { SequenceBatch.FromFeatures(inputs, targets) });
        var model = new ModelBuilder().Gru(8).Features(1).PredictValuesEveryStep(1).Build(seed: 1);
        var trained = new Trainer(new TrainerOptions { LearningRate = 0.02, Epochs = 150, Seed = 1 }).Fit(model, data).Model;
        var result = trained.Evaluate(data.GetBatches(32));
        Assert.Null(result.Accuracy);
        Assert.Null(result.Perplexity);
        Assert.True(result.Rmse < 0.03, $"RMSE {result.Rmse}");
        Assert.Equal(result.Loss, result.Rmse!.Value * result.Rmse.Value, 12); // MSE is the squared RMSE
        Assert.True(result.Mae <= result.Rmse, "MAE ≤ RMSE");
    }

    [Theory]
    [InlineData("mse")]
    [InlineData("l1")]
    [InlineData("huber")]
    public void Regression_losses_survive_a_save_and_load(string name)
    {
        var loss = name switch { "mse" => LossFunction.MeanSquaredError, "l1" => LossFunction.MeanAbsoluteError, _ => LossFunction.Huber(0.25) };
        var model = new ModelBuilder().Lstm(3).Features(2).PredictValuesLastStep(4).Loss(loss).Build(seed: 1);
        var path = Path.Combine(_folder, name + ".safetensors");
        model.Save(path);
        var loaded = RecurrentModel.Load(path);
        Assert.Equal(model.Description, loaded.Description);
        Assert.Equal(loss, loaded.Description.Loss);
    }
}

/// <summary>The C# forecasting example, run as a program in its quick mode.</summary>
[Collection("Console")]
public sealed class ForecastingExampleTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("rnnad-cs-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void The_forecasting_example_beats_the_last_value_baseline_by_40_percent_in_quick_mode()
    {
        var text = ExampleRunner.Run("CSharpForecasting", "--quick", "--output", _folder);
        var ratio = double.Parse(text.Split('\n').Single(l => l.StartsWith("LSTM RMSE / last-value RMSE")).Split('=')[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(ratio <= 0.6, $"LSTM RMSE is {ratio} of the last-value baseline's\n{text}");
        var png = File.ReadAllBytes(Path.Combine(_folder, "forecast.png"));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
    }
}
