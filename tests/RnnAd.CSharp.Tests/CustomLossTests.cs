using Xunit.Abstractions;

namespace RnnAd.CSharp.Tests;

/// <summary>
/// Losses written in C#, end to end: a pinball (quantile) loss over values and a focal loss over classes, on padded
/// batches, trained through <see cref="Trainer"/>, saved, loaded, predicting the same bits, and gradient-checked.
/// </summary>
public sealed class CustomLossTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("rnnad-cs-loss-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>The quantile the pinball loss asks for.</summary>
    private const double Tau = 0.9;

    /// <summary>
    /// The pinball loss ρ_τ(d) = max(τ·d, (τ − 1)·d) of d = target − output (under-prediction costs τ per unit,
    /// over-prediction 1 − τ), averaged over the counted positions and the outputs' last dimension. Its minimiser is
    /// the τ-quantile of the target.
    /// </summary>
    private static Tensor Pinball(Tensor outputs, Tensor targets, Tensor? positionWeights)
    {
        var d = targets - outputs;
        var loss = Tensor.Maximum(d * Tau, d * (Tau - 1));
        if (positionWeights is null) return loss.Mean();
        // One weight per position (batch, time), broadcast over the outputs' last dimension; padding weighs 0.
        return (loss * positionWeights.Unsqueeze(-1)).Sum() / (positionWeights.Sum() * outputs.Shape[^1]);
    }

    private const double Gamma = 2.0;

    /// <summary>
    /// The focal loss −(1 − p)^γ·log p of the probability p the scores give the target (Lin et al., 2017): confident
    /// right answers weigh little. A weighted mean over the counted positions.
    /// </summary>
    private static Tensor Focal(Tensor scores, int[] classes, Tensor? positionWeights)
    {
        var logP = scores.LogSoftmax().GatherLast(classes); // (batch, time): log p of each position's target
        var loss = -((1.0 - logP.Exp()).Pow(Gamma) * logP);
        return positionWeights is null ? loss.Mean() : (loss * positionWeights).Sum() / positionWeights.Sum();
    }

    /// <summary>
    /// Sequences of 3 to 8 steps of x ~ U(−1, 1) whose target at each step is x + u with u ~ U(0, 1), so the
    /// 0.9-quantile of the target is x + 0.9 (the mean, which squared error would learn, is x + 0.5). Seeded.
    /// </summary>
    private static (double[][][] Inputs, double[][][] Targets) QuantileData(int seed, int count)
    {
        var rng = new Random(seed);
        var inputs = new double[count][][];
        var targets = new double[count][][];
        for (var i = 0; i < count; i++)
        {
            var length = rng.Next(3, 9);
            inputs[i] = Enumerable.Range(0, length).Select(_ => new[] { rng.NextDouble() * 2 - 1 }).ToArray();
            targets[i] = inputs[i].Select(x => new[] { x[0] + rng.NextDouble() }).ToArray();
        }
        return (inputs, targets);
    }

    private static SequenceDataset InBatches<T>(T[] inputs, T[] targets, int size, Func<T[], T[], SequenceBatch> batch) =>
        SequenceDataset.FromBatches(inputs.Chunk(size).Zip(targets.Chunk(size), batch).ToArray());

    [Fact]
    public void A_pinball_loss_learns_the_quantile_and_survives_save_and_load()
    {
        IReadOnlyList<double>? seenWeights = null;
        var pinball = LossFunction.Custom("pinball", (outputs, targets, weights) =>
        {
            seenWeights = weights?.ToArray();
            return Pinball(outputs, targets, weights);
        });
        var (inputs, targets) = QuantileData(seed: 17, count: 160);
        var data = InBatches(inputs, targets, 16, (i, t) => SequenceBatch.FromFeatures(i, t));
        var model = new ModelBuilder().Gru(4).Features(1).PredictValuesEveryStep(1).Loss(pinball).Build(seed: 3);
        Assert.Same(pinball, model.Description.Loss);

        // The loss reaches the custom function with the padding weights: 1 at every real step, 0 after each sequence's end.
        var first = data.GetBatches(16)[0];
        var before = model.Evaluate([first]).Loss;
        var lengths = inputs.Take(16).Select(s => s.Length).ToArray();
        Assert.Equal(lengths.SelectMany(l => Enumerable.Range(0, first.Length).Select(t => t < l ? 1.0 : 0.0)), seenWeights);
        Assert.Contains(0.0, seenWeights!); // the batch is padded
        // And its value is the pinball loss over the real steps, computed here from the model's own predictions.
        var predicted = model.PredictValues(first);
        var residuals = Enumerable.Range(0, 16).SelectMany(i => targets[i].Select((t, s) => t[0] - predicted[i][s][0])).ToArray();
        Assert.Equal(residuals.Average(d => Math.Max(Tau * d, (Tau - 1) * d)), before, 12);

        var result = new Trainer(new TrainerOptions { LearningRate = 0.01, Epochs = 100, BatchSize = 16, Seed = 1 }).Fit(model, data);
        var trained = result.Model;
        var all = data.GetBatches(16);
        var after = trained.Evaluate(all).Loss;
        // Judged on fresh sequences of the same kind, so that fitting the training noise does not count as learning.
        var (freshInputs, freshTargets) = QuantileData(seed: 18, count: 100);
        var fresh = SequenceBatch.FromFeatures(freshInputs, freshTargets);
        var freshLoss = trained.Evaluate([fresh]).Loss;
        var coverage = Coverage(trained, freshInputs, freshTargets);
        output.WriteLine($"pinball τ = {Tau}: training loss {model.Evaluate(all).Loss:F4} -> {after:F4} over {result.Epochs.Count} epochs; fresh data: loss {freshLoss:F4}, coverage {coverage:F3}");
        // Predicting the quantile x + 0.9 scores E ρ = 0.1·0.405 + 0.9·0.005 = 0.045; the mean x + 0.5 (what squared error
        // learns) scores 0.125. Below 0.06 the model predicts the quantile, not the mean; and about 90% of the targets then
        // lie below its predictions: ±0.06 is 3 standard errors of a proportion of 0.9 over the ~550 fresh steps (0.04)
        // plus room for the model's own error.
        Assert.True(freshLoss < 0.06, $"pinball loss on fresh data {freshLoss}");
        Assert.InRange(coverage, 0.84, 0.96);

        var path = Path.Combine(_folder, "pinball.safetensors");
        trained.Save(path);
        var loaded = RecurrentModel.Load(path, new ModelLoadOptions { CustomLosses = [pinball] });
        Assert.Same(pinball, loaded.Description.Loss);
        Assert.Equal(trained.PredictValues(first), loaded.PredictValues(first));
        Assert.Equal(after, loaded.Evaluate(all).Loss);

        // A custom loss leaves the hand-derived BPTT out: AD against finite differences with the default tolerances
        // (1e-6 relative, floor 1e-2). The loss has a kink at d = 0, which a finite-difference step (~1e-6) would cross
        // only if a residual lay that close to 0; the seeds fix the residuals, and none does.
        var report = GradientCheck.Compare(trained, first);
        output.WriteLine($"{report.Reference}: worst relative error {report.FiniteDifferences[0].MaxRelativeError:E2}");
        Assert.StartsWith("finite differences", report.Reference);
        Assert.True(report.Passed, report.ToString());

        var error = Assert.Throws<InvalidDataException>(() => RecurrentModel.Load(path));
        Assert.Contains("'pinball'", error.Message);
        Assert.Contains("custom loss", error.Message);
    }

    [Fact]
    public void The_README_pinball_loss_is_the_one_trained_here()
    {
        // README begin
        var pinball = LossFunction.Custom("pinball", (outputs, targets, weights) =>
        {
            var d = targets - outputs;
            var loss = Tensor.Maximum(d * 0.9, d * -0.1);
            return weights is null ? loss.Mean() : (loss * weights.Unsqueeze(-1)).Sum() / (weights.Sum() * outputs.Shape[^1]);
        });
        // README end
        var (inputs, targets) = QuantileData(seed: 19, count: 6);
        var padded = SequenceBatch.FromFeatures(inputs, targets);
        var model = new ModelBuilder().Gru(3).Features(1).PredictValuesEveryStep(1).Build(seed: 4);
        var readme = RecurrentModel.Create(model.Description with { Loss = pinball }, seed: 4);
        var tested = RecurrentModel.Create(model.Description with { Loss = LossFunction.Custom("pinball", Pinball) }, seed: 4);
        // 1e-15: 0.9 − 1 is −0.09999999999999998 in binary, not −0.1; the losses differ by that rounding only.
        Assert.Equal(tested.Evaluate([padded]).Loss, readme.Evaluate([padded]).Loss, 1e-15);
    }

    /// <summary>The fraction of real steps whose target is at most the model's prediction.</summary>
    private static double Coverage(RecurrentModel model, double[][][] inputs, double[][][] targets)
    {
        var predicted = model.PredictValues(SequenceBatch.FromFeatures(inputs));
        var below = 0;
        var steps = 0;
        for (var i = 0; i < inputs.Length; i++)
            for (var t = 0; t < inputs[i].Length; t++, steps++)
                if (targets[i][t][0] <= predicted[i][t][0]) below++;
        return (double)below / steps;
    }

    /// <summary>
    /// Token sequences of 2 to 9 steps over 3 tokens whose target at each step is the token before (the first
    /// token at step 0): a model must remember one step. Seeded.
    /// </summary>
    private static (int[][] Inputs, int[][] Targets) DelayedCopy(int seed, int count)
    {
        var rng = new Random(seed);
        var inputs = Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, rng.Next(2, 10)).Select(_ => rng.Next(3)).ToArray()).ToArray();
        var targets = inputs.Select(s => s.Select((token, t) => t == 0 ? token : s[t - 1]).ToArray()).ToArray();
        return (inputs, targets);
    }

    [Fact]
    public void A_focal_loss_trains_a_classifier_and_survives_save_and_load()
    {
        var focal = LossFunction.Custom("focal", Focal);
        Assert.True(focal.ComparesClasses);
        var (inputs, targets) = DelayedCopy(seed: 23, count: 60);
        var data = InBatches(inputs, targets, 20, (i, t) => SequenceBatch.FromTokens(i, t));
        var model = new ModelBuilder().Gru(8).OneHot(3).PredictEveryStep(3).Loss(focal).Build(seed: 2);
        Assert.Same(focal, model.Description.Loss);

        // Its value on a padded batch is the focal loss over the real steps, computed here from the model's scores.
        var first = data.GetBatches(20)[0];
        var scores = model.PredictValues(first);
        var terms = Enumerable.Range(0, 20).SelectMany(i => targets[i].Select((target, t) =>
        {
            var row = scores[i][t];
            var p = Math.Exp(row[target] - row.Max()) / row.Sum(s => Math.Exp(s - row.Max()));
            return -Math.Pow(1 - p, Gamma) * Math.Log(p);
        })).ToArray();
        Assert.Equal(terms.Average(), model.Evaluate([first]).Loss, 12);

        var result = new Trainer(new TrainerOptions { LearningRate = 0.05, Epochs = 60, BatchSize = 20, Seed = 1 }).Fit(model, data);
        var trained = result.Model;
        var accuracy = Accuracy(trained, inputs, targets);
        output.WriteLine($"focal γ = {Gamma}: loss {model.Evaluate(data.GetBatches(20)).Loss:F4} -> {trained.Evaluate(data.GetBatches(20)).Loss:F4}, accuracy {Accuracy(model, inputs, targets):F3} -> {accuracy:F3} over {result.Epochs.Count} epochs");
        // A model that sees only the current token guesses the previous one: about 1/3 after step 0. Near-perfect
        // accuracy means the recurrent state carries the token before.
        Assert.True(accuracy >= 0.95, $"accuracy {accuracy}");

        var path = Path.Combine(_folder, "focal.safetensors");
        trained.Save(path);
        var loaded = RecurrentModel.Load(path, new ModelLoadOptions { CustomLosses = [focal] });
        Assert.Equal(trained.PredictValues(first), loaded.PredictValues(first));
        Assert.Equal(trained.Predict(first), loaded.Predict(first));

        // The focal loss is smooth: AD against finite differences with the default tolerances.
        var report = GradientCheck.Compare(trained, first);
        output.WriteLine($"{report.Reference}: worst relative error {report.FiniteDifferences[0].MaxRelativeError:E2}");
        Assert.True(report.Passed, report.ToString());

        Assert.Contains("'focal'", Assert.Throws<InvalidDataException>(() => RecurrentModel.Load(path)).Message);
        // A loss of another name does not stand in for it.
        var other = LossFunction.Custom("not-focal", Focal);
        Assert.Contains("'focal'", Assert.Throws<InvalidDataException>(() => RecurrentModel.Load(path, new ModelLoadOptions { CustomLosses = [other] })).Message);
    }

    /// <summary>The fraction of real steps whose most likely class is the target.</summary>
    private static double Accuracy(RecurrentModel model, int[][] inputs, int[][] targets)
    {
        var predicted = model.Predict(SequenceBatch.FromTokens(inputs));
        return (double)predicted.Zip(targets, (p, t) => p.Zip(t).Count(x => x.First == x.Second)).Sum() / targets.Sum(t => t.Length);
    }
}
