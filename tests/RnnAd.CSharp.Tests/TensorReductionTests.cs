using static RnnAd.CSharp.Tests.TensorAssert;

namespace RnnAd.CSharp.Tests;

/// <summary>Reductions, statistics, matrix products and neural-network functions from C#, against values worked out here.</summary>
public sealed class TensorReductionTests
{
    /// <summary>[[1, −2, 3], [4, 5, −6]]</summary>
    private static readonly Tensor X = Tensor.FromArray(new double[,] { { 1, -2, 3 }, { 4, 5, -6 } });

    // Sums of a handful of small integers are exact; logarithms, exponentials and square roots are compared to 1e-14
    // relative, far above the few roundings either side makes.
    private const double Ulps = 1e-14;

    [Fact]
    public void Sums_means_extremes_and_products()
    {
        Values(new[] { 5.0 }, [], X.Sum());
        Values(new[] { 5.0, 3, -3 }, [3], X.Sum(0));
        Values(new[] { 2.0, 3 }, [2], X.Sum(-1));
        Values(new[] { 2.0, 3 }, [2, 1], X.Sum(1, keepDim: true));
        Values(new[] { 5.0 / 6 }, [], X.Mean(), Ulps);
        Values(new[] { 2.5, 1.5, -1.5 }, [3], X.Mean(0));
        Values(new[] { 2.0 / 3, 1 }, [2, 1], X.Mean(1, keepDim: true), Ulps);
        Values(new[] { 5.0 }, [], X.Max());
        Values(new[] { 3.0, 5 }, [2], X.Max(1));
        Values(new[] { 4.0, 5, 3 }, [1, 3], X.Max(0, keepDim: true));
        Values(new[] { -6.0 }, [], X.Min());
        Values(new[] { 1.0, -2, -6 }, [3], X.Min(0));
        Values(new[] { 720.0 }, [], X.Prod());
        Values(new[] { -6.0, -120 }, [2], X.Prod(1));
        Values(new[] { 4.0, -10, -18 }, [1, 3], X.Prod(0, keepDim: true));
        Values(new[] { 1.0, -1, 2, 4, 9, 3 }, [2, 3], X.CumSum(1));
        Values(new[] { 1.0, -2, 3, 5, 3, -3 }, [2, 3], X.CumSum(0));
    }

    [Fact]
    public void LogSumExp_and_arg_extremes()
    {
        static double Lse(params double[] v) => v.Max() + Math.Log(v.Sum(a => Math.Exp(a - v.Max())));
        Values(new[] { Lse(1, -2, 3), Lse(4, 5, -6) }, [2], X.LogSumExp(1), Ulps);
        Values(new[] { Lse(1, 4), Lse(-2, 5), Lse(3, -6) }, [1, 3], X.LogSumExp(0, keepDim: true), Ulps);
        Assert.Equal(4, X.ArgMax());
        Assert.Equal(new[] { 2, 1 }, X.ArgMax(1));
        Assert.Equal(5, X.ArgMin());
        Assert.Equal(new[] { 0, 0, 1 }, X.ArgMin(0));
    }

    [Fact]
    public void Norms_variances_and_standard_deviations()
    {
        double[] v = [1, -2, 3, 4, 5, -6];
        Values(new[] { Math.Sqrt(91) }, [], X.Norm(), Ulps);
        Values(new[] { 21.0 }, [], X.Norm(1), Ulps);
        Values(new[] { Math.Cbrt(1 + 8 + 27 + 64 + 125 + 216) }, [], X.Norm(3), Ulps);
        Values(new[] { 6.0, 15 }, [2], X.Norm(1, dim: 1), Ulps);
        Values(new[] { Math.Sqrt(17), Math.Sqrt(29), Math.Sqrt(45) }, [1, 3], X.Norm(2, dim: 0, keepDim: true), Ulps);
        var mean = v.Average();
        var squares = v.Sum(a => (a - mean) * (a - mean));
        Values(new[] { squares / 5 }, [], X.Var(), Ulps);
        Values(new[] { squares / 6 }, [], X.Var(unbiased: false), Ulps);
        Values(new[] { Math.Sqrt(squares / 5) }, [], X.Std(), Ulps);
        Values(new[] { Math.Sqrt(squares / 6) }, [], X.Std(unbiased: false), Ulps);
        // Row 0 is 1, −2, 3 (mean 2/3), row 1 is 4, 5, −6 (mean 1).
        var row0 = new[] { 1.0, -2, 3 }.Sum(a => (a - 2.0 / 3) * (a - 2.0 / 3));
        var row1 = new[] { 4.0, 5, -6 }.Sum(a => (a - 1) * (a - 1));
        Values(new[] { row0 / 2, row1 / 2 }, [2], X.Var(1), Ulps);
        Values(new[] { row0 / 3, row1 / 3 }, [2, 1], X.Var(1, keepDim: true, unbiased: false), Ulps);
        Values(new[] { Math.Sqrt(row0 / 2), Math.Sqrt(row1 / 2) }, [2], X.Std(1), Ulps);
        Values(new[] { Math.Sqrt(row0 / 3), Math.Sqrt(row1 / 3) }, [2, 1], X.Std(-1, keepDim: true, unbiased: false), Ulps);
    }

    [Fact]
    public void Matrix_products_in_every_layout()
    {
        var a = Tensor.FromArray(new double[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        var b = Tensor.FromArray(new double[,] { { 7, 8 }, { 9, 10 }, { 11, 12 } });
        Values(new[] { 58.0, 64, 139, 154 }, [2, 2], a.MatMul(b));
        Values(new[] { 58.0, 64, 139, 154 }, [2, 2], Tensor.MatMul(a, b));
        Values(new[] { 14.0, 32, 32, 77 }, [2, 2], Tensor.MatMul(a, a, transposeB: true));
        Values(new[] { 17.0, 22, 27, 22, 29, 36, 27, 36, 45 }, [3, 3], Tensor.MatMul(a, a, transposeA: true));
        Values(new[] { 58.0, 139, 64, 154 }, [2, 2], Tensor.MatMul(b, a, transposeA: true, transposeB: true));
        Values(new[] { 32.0 }, [], Tensor.FromArray([1.0, 2, 3]).MatMul(Tensor.FromArray([4.0, 5, 6])));
        Values(new[] { -2.0, -2 }, [2], a.MatMul(Tensor.FromArray([1.0, 0, -1])));
        Values(new[] { 58.0, 64, 139, 154, 116, 128, 278, 308 }, [2, 2, 2], Tensor.Stack([a, a * 2.0]).MatMul(b));
    }

    [Fact]
    public void Linear_softmax_and_dropout()
    {
        var w = Tensor.FromArray(new double[,] { { 1, 0, -1 }, { 0.5, 0.5, 0.5 } });
        var b = Tensor.FromArray([10.0, 20]);
        var x = Tensor.FromArray(new double[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        Values(new[] { 8.0, 23, 8, 27.5 }, [2, 2], x.Linear(w, b));
        Values(new[] { -2.0, 3, -2, 7.5 }, [2, 2], x.Linear(w));
        static double[] Softmax(params double[] v) => v.Select(a => Math.Exp(a - v.Max()) / v.Sum(c => Math.Exp(c - v.Max()))).ToArray();
        Values(Softmax(1, -2, 3).Concat(Softmax(4, 5, -6)).ToArray(), [2, 3], X.Softmax(), Ulps);
        Values(Softmax(1, 4).Concat(Softmax(-2, 5)).Concat(Softmax(3, -6)).ToArray(), [3, 2], X.Softmax(dim: 0).T, Ulps);
        Values(Softmax(1, -2, 3).Concat(Softmax(4, 5, -6)).Select(p => Math.Log(p)).ToArray(), [2, 3], X.LogSoftmax(), Ulps);
        var dropped = Tensor.Ones(2000).Dropout(seed: 3, p: 0.25).ToArray();
        Assert.All(dropped, d => Assert.True(d == 0 || d == 1 / 0.75, $"{d} is neither 0 nor 1/(1 − p)"));
        // Seeded, so deterministic: 4 standard errors of a proportion of 0.25 over 2000 entries are 0.039.
        Assert.InRange(dropped.Count(d => d == 0) / 2000.0, 0.25 - 0.039, 0.25 + 0.039);
        Assert.Equal(dropped, Tensor.Ones(2000).Dropout(3, 0.25).ToArray());
        Assert.NotEqual(dropped, Tensor.Ones(2000).Dropout(4, 0.25).ToArray());
        Values(X.ToArray(), [2, 3], X.Dropout(3, 0));
    }

    [Fact]
    public void Losses_weigh_positions_and_classes()
    {
        var logits = Tensor.FromArray(new double[,] { { 1, 2, 3 }, { 1, 1, 1 } });
        var l0 = Math.Log(Math.Exp(1) + Math.Exp(2) + Math.Exp(3)) - 3;
        var l1 = Math.Log(3);
        Values(new[] { (l0 + l1) / 2 }, [], logits.CrossEntropy([2, 0]), Ulps);
        Values(new[] { l0 }, [], logits.CrossEntropy([2, 0], positionWeights: Tensor.FromArray([1.0, 0])), Ulps);
        Values(new[] { (3 * l0 + l1) / 4 }, [], logits.CrossEntropy([2, 0], classWeights: [1, 1, 3]), Ulps);
        Values(new[] { l0 + l1 }, [], logits.CrossEntropy([2, 0], reduction: LossReduction.Sum), Ulps);
        Assert.Equal("classWeights", Assert.Throws<ArgumentException>(() =>
            logits.CrossEntropy([2, 0], classWeights: [1, 1, 1], reduction: LossReduction.Sum)).ParamName);

        static double Bce(double z, double y) => -y * Math.Log(1 / (1 + Math.Exp(-z))) - (1 - y) * Math.Log(1 - 1 / (1 + Math.Exp(-z)));
        var z = Tensor.FromArray([0.0, 2, -1]);
        Values(new[] { (Bce(0, 1) + Bce(2, 0) + Bce(-1, 0.5)) / 3 }, [], z.BinaryCrossEntropyWithLogits(Tensor.FromArray([1.0, 0, 0.5])), Ulps);

        var outputs = Tensor.FromArray([1.0, 2, 3], 3, 1);
        var targets = Tensor.FromArray([1.5, 2, 1], 3, 1);
        Values(new[] { (0.25 + 0 + 4) / 3 }, [], outputs.MeanSquaredError(targets), Ulps);
        Values(new[] { (0.5 + 0 + 2) / 3 }, [], outputs.MeanAbsoluteError(targets), Ulps);
        // d = −0.5, 0, 2: d²/2 inside δ = 1, δ·(|d| − δ/2) = 1.5 outside.
        Values(new[] { (0.125 + 0 + 1.5) / 3 }, [], outputs.Huber(targets), Ulps);
        Values(new[] { (0.125 + 0 + 2 * (2 - 1)) / 3 }, [], outputs.Huber(targets, delta: 2), Ulps);
        // Position 1 (weight 0) is left out of every loss; a NaN there changes nothing.
        var weights = Tensor.FromArray([1.0, 0, 1]);
        var poisoned = Tensor.FromArray([1.0, double.NaN, 3], 3, 1);
        Values(new[] { (0.25 + 4) / 2 }, [], poisoned.MeanSquaredError(targets, weights), Ulps);
        Values(new[] { (0.5 + 2) / 2 }, [], poisoned.MeanAbsoluteError(targets, weights), Ulps);
        Values(new[] { (0.125 + 1.5) / 2 }, [], poisoned.Huber(targets, positionWeights: weights), Ulps);
        Values(new[] { (Bce(1, 1) + Bce(3, 0)) / 2 }, [], poisoned.BinaryCrossEntropyWithLogits(Tensor.FromArray([1.0, 0.5, 0], 3, 1), weights), Ulps);
    }
}
