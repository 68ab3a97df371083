using Xunit.Abstractions;

namespace RnnAd.CSharp.Tests;

/// <summary>
/// AD gradients against the hand-derived BPTT and finite differences, through the C# facade as a researcher
/// would call it. Tolerances (see <see cref="GradientCheckOptions"/>): AD vs BPTT 1e-10 relative, with
/// entries below 1e-5 checked to 1e-15 absolute (rounding noise on values made tiny by cancellation); each vs
/// finite differences 1e-6 relative, 1e-8 absolute below 1e-2 (the finite differences' own error).
/// </summary>
public class GradientCheckTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Random64 => Enumerable.Range(0, 64).Select(i => new object[] { i });

    public static IEnumerable<object[]> Small24 => Enumerable.Range(100, 24).Select(i => new object[] { i });

    [Theory]
    [MemberData(nameof(Random64))]
    public void Ad_agrees_with_the_hand_derived_bptt(int index)
    {
        var (model, batch, description) = Configurations.Random(index);
        var report = GradientCheck.Compare(model, batch);
        output.WriteLine($"{description}: max relative error {report.AdVsBptt!.MaxRelativeError:E2} (floored)");
        Assert.True(report.Passed, description + "\n" + report);
        Assert.True(report.LossRelativeError <= 1e-12, $"losses differ by {report.LossRelativeError:E2}");
    }

    [Theory]
    [MemberData(nameof(Small24))]
    public void Ad_and_bptt_agree_with_finite_differences(int index)
    {
        var (model, batch, description) = Configurations.Random(index, maxInput: 4, maxHidden: 5, maxTime: 6, maxBatch: 3);
        var report = GradientCheck.Compare(model, batch, new GradientCheckOptions { IncludeFiniteDifferences = true });
        Assert.Equal(2, report.FiniteDifferences.Count);
        Assert.True(report.Passed, description + "\n" + report);
    }

    [Theory]
    [InlineData(CellType.Rnn, 1)]
    [InlineData(CellType.RnnRelu, 2)]
    [InlineData(CellType.Lstm, 3)]
    [InlineData(CellType.Gru, 5)]
    public void Truncated_ad_equals_truncated_bptt_and_differs_from_full(CellType cell, int window)
    {
        var model = new ModelDescription { Cell = cell, Input = InputType.OneHot, InputSize = 3, HiddenSize = 4, Layers = 2, Outputs = 3 };
        var m = RecurrentModel.Create(model, seed: window);
        var rng = new Random(window);
        var tokens = Enumerable.Range(0, 2).Select(_ => (IReadOnlyList<int>)Enumerable.Range(0, 12).Select(_ => rng.Next(3)).ToArray()).ToList();
        var batch = SequenceBatch.FromTokens(tokens, tokens);
        var report = GradientCheck.Compare(m, batch, new GradientCheckOptions { BpttWindow = window });
        Assert.True(report.Passed, report.ToString());
        var full = GradientCheck.ComputeAd(m, batch);
        var truncated = GradientCheck.ComputeAd(m, batch, window);
        Assert.NotEqual(full.GetValues("rnn.weight_hh_l0"), truncated.GetValues("rnn.weight_hh_l0"));
    }

    [Theory]
    [InlineData(3)]
    [InlineData(6)]
    public void Seed_001_hell_to_ello_ad_gradient_equals_the_hand_gradient(int hidden)
    {
        // Seed 001's network: h, e, l, o one-hot; an RNN tanh cell; a linear head at every step.
        var model = new ModelBuilder().Rnn(hidden).OneHot(4).PredictEveryStep(4).Build(seed: 230912);
        var batch = SequenceBatch.FromTokens(new[] { new[] { 0, 1, 2, 2 } }, new[] { new[] { 1, 2, 2, 3 } });
        var report = GradientCheck.Compare(model, batch, new GradientCheckOptions { IncludeFiniteDifferences = true });
        output.WriteLine(report.ToString());
        Assert.True(report.Passed, report.ToString());
    }

    [Fact]
    public void A_wrong_gradient_fails_on_that_parameter_and_only_that_one()
    {
        var (model, batch, _) = Configurations.Random(5);
        var ad = GradientCheck.ComputeAd(model, batch);
        var bptt = GradientCheck.ComputeBptt(model, batch);
        Assert.True(GradientCheck.Compare(ad, bptt, 1e-10, 1e-5).Passed);
        var values = bptt.GetValues("rnn.weight_hh_l0");
        var worst = Array.IndexOf(values, values.MaxBy(Math.Abs));
        values[worst] *= 1 + 1e-8; // far below any visible change in training, far above rounding
        var comparison = GradientCheck.Compare(ad, bptt.With("rnn.weight_hh_l0", values), 1e-10, 1e-5, "AD", "perturbed BPTT");
        Assert.False(comparison.Passed);
        var failed = Assert.Single(comparison.FailedRows);
        Assert.Equal("rnn.weight_hh_l0", failed.Parameter);
        Assert.Contains("rnn.weight_hh_l0", comparison.ToTable());
    }

    [Fact]
    public void Gradient_flow_is_reported_from_both_sides_and_agrees()
    {
        var model = new ModelBuilder().Rnn(3).OneHot(4).PredictEveryStep(4).Build(seed: 1);
        var tokens = new[] { Enumerable.Range(0, 30).Select(i => i % 4).ToArray() };
        var report = GradientCheck.Compare(model, SequenceBatch.FromTokens(tokens, tokens));
        var flow = Assert.Single(report.GradientFlow);
        Assert.Equal(30, flow.AdNorms.Count);
        for (var t = 0; t < 30; t++)
            Assert.True(Math.Abs(flow.AdNorms[t] - flow.BpttNorms[t]) <= 1e-10 * Math.Max(flow.AdNorms[t], 1e-5), $"step {t}");
    }

    [Fact]
    public void Invalid_options_name_the_field()
    {
        var (model, batch, _) = Configurations.Random(1);
        var error = Assert.Throws<ArgumentException>(() => GradientCheck.Compare(model, batch, new GradientCheckOptions { BpttWindow = 0 }));
        Assert.Equal("BpttWindow", error.ParamName);
        Assert.Throws<ArgumentException>(() => GradientCheck.Compare(model, batch, new GradientCheckOptions { Floor = 0 }));
    }
}
