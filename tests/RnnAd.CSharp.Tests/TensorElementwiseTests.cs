using static RnnAd.CSharp.Tests.TensorAssert;

namespace RnnAd.CSharp.Tests;

/// <summary>
/// Tensor creation, arithmetic, element-wise functions, activations and comparisons, called from C# as a C# program
/// does, each checked against values worked out here (by hand, or with System.Math on each element).
/// </summary>
public sealed class TensorElementwiseTests
{
    // RnnAd's elementary functions and System.Math's are each within a few ulp of the exact value (RnnAd's tanh and
    // logistic within one), so they agree to far better than 1e-14 relative; ops that only copy, select or do one
    // exactly rounded operation are compared for equality.
    private const double Ulps = 1e-14;

    [Fact]
    public void Factories_build_constants_of_the_given_shape()
    {
        Values(new double[6], new[] { 2, 3 }, Tensor.Zeros(2, 3));
        Values(new[] { 1.0, 1, 1, 1 }, new[] { 4 }, Tensor.Ones(4));
        Values(new[] { 7.5, 7.5 }, new[] { 2, 1 }, Tensor.Full([2, 1], 7.5));
        Values(new[] { 1.0, 2, 3, 4, 5, 6 }, new[] { 2, 3 }, Tensor.FromArray([1.0, 2, 3, 4, 5, 6], 2, 3));
        Values(new[] { 1.0, 2, 3 }, new[] { 3 }, Tensor.FromArray([1.0, 2, 3]));
        Values(new[] { 1.0, 2, 3, 4, 5, 6 }, new[] { 2, 3 }, Tensor.FromArray(new double[,] { { 1, 2, 3 }, { 4, 5, 6 } }));
        Values(new[] { 1.0, 2, 3, 4, 5, 6, 7, 8 }, new[] { 2, 2, 2 }, Tensor.FromArray(new double[,,] { { { 1, 2 }, { 3, 4 } }, { { 5, 6 }, { 7, 8 } } }));
        Values(new[] { 1.0, 2, 3, 4 }, new[] { 2, 2 }, Tensor.FromArray(new[] { new[] { 1.0, 2 }, new[] { 3.0, 4 } }));
        Values(new[] { 1.0, 2, 3, 4 }, new[] { 2, 1, 2 }, Tensor.FromArray(new[] { new[] { new[] { 1.0, 2 } }, new[] { new[] { 3.0, 4 } } }));
        Values(new[] { 0.0, 0.25, 0.5, 0.75 }, new[] { 4 }, Tensor.Arange(0, 1, 0.25));
        Values(new[] { 0.0, 1, 2 }, new[] { 3 }, Tensor.Arange(0, 3));
        Values(new[] { 3.0, 2, 1 }, new[] { 3 }, Tensor.Arange(3, 0, -1));
        Values(new[] { 1.0, 0, 0, 0, 1, 0, 0, 0, 1 }, new[] { 3, 3 }, Tensor.Eye(3));
        Values(new[] { 0.0, 0, 1, 1, 0, 0, 0, 1, 0 }, new[] { 3, 3 }, Tensor.OneHot(3, [2, 0, 1]));
        Values(new[] { 0.0, 1, 1, 0 }, new[] { 1, 2, 2 }, Tensor.OneHot(2, [1, 0], indexShape: [1, 2]));
        Assert.Equal(2.5, Tensor.Scalar(2.5).ToScalar());
    }

    [Fact]
    public void Random_tensors_follow_their_seed_and_distribution()
    {
        var normal = Tensor.RandomNormal(seed: 11, [4000], mean: 5, std: 2).ToArray();
        Assert.Equal(normal, Tensor.RandomNormal(11, [4000], 5, 2).ToArray());
        Assert.NotEqual(normal, Tensor.RandomNormal(12, [4000], 5, 2).ToArray());
        // The seeds fix the samples, so these bounds cannot flake: 4 standard errors of the mean (2/√4000 = 0.032) and
        // of the standard deviation (2/√8000 = 0.022).
        var mean = normal.Average();
        Assert.InRange(mean, 5 - 4 * 0.032, 5 + 4 * 0.032);
        Assert.InRange(Math.Sqrt(normal.Sum(v => (v - mean) * (v - mean)) / (normal.Length - 1)), 2 - 4 * 0.022, 2 + 4 * 0.022);
        var standard = Tensor.RandomNormal(11, [2, 3]);
        Assert.Equal(new[] { 2, 3 }, standard.Shape);
        var uniform = Tensor.RandomUniform(seed: 5, [4000], low: -1, high: 3).ToArray();
        Assert.All(uniform, u => Assert.InRange(u, -1.0, 3.0 - 1e-300));
        // U[−1, 3) has mean 1 and standard deviation 4/√12 = 1.155: 4 standard errors are 4·1.155/√4000 = 0.073.
        Assert.InRange(uniform.Average(), 1 - 0.073, 1 + 0.073);
        Assert.All(Tensor.RandomUniform(5, [100]).ToArray(), u => Assert.InRange(u, 0.0, 1.0 - 1e-300));
    }

    [Fact]
    public void Arithmetic_operators_mix_tensors_and_doubles_and_broadcast()
    {
        var x = Tensor.FromArray([1.0, -2, 4]);
        Values(new[] { 2.0, -4, 8 }, new[] { 3 }, x * 2.0);
        Values(new[] { 2.0, -4, 8 }, new[] { 3 }, 2.0 * x);
        Values(new[] { 0.0, 3, -3 }, new[] { 3 }, 1.0 - x);
        Values(new[] { 0.0, 3, -3 }, new[] { 3 }, 1 - x);
        Values(new[] { 3.0, 0, 6 }, new[] { 3 }, x + 2);
        Values(new[] { -1.0, 2, -4 }, new[] { 3 }, -x);
        Values(new[] { 0.5, -1, 2 }, new[] { 3 }, x / 2.0);
        Values(new[] { 2.0, -1, 0.5 }, new[] { 3 }, 2.0 / x);
        var m = Tensor.FromArray(new double[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        Values(new[] { 11.0, 22, 33, 14, 25, 36 }, new[] { 2, 3 }, m + Tensor.FromArray([10.0, 20, 30]));
        Values(new[] { 1.0, 2, 3, -4, -5, -6 }, new[] { 2, 3 }, m * Tensor.FromArray([1.0, -1], 2, 1));
        Values(new[] { 0.0, 0, 0, 3, 3, 3 }, new[] { 2, 3 }, m - Tensor.FromArray([1.0, 2, 3]));
        Values(new[] { 1.0, 1, 1, 4, 2.5, 2 }, new[] { 2, 3 }, m / Tensor.FromArray([1.0, 2, 3]));
    }

    [Fact]
    public void Elementary_functions_match_SystemMath_element_by_element()
    {
        double[] v = [-1.5, -0.3, 0.2, 0.7, 2.0];
        var x = Tensor.FromArray(v);
        int[] shape = [5];
        Values(v.Map(Math.Exp), shape, x.Exp(), Ulps);
        Values(v.Map(Math.Sin), shape, x.Sin(), Ulps);
        Values(v.Map(Math.Cos), shape, x.Cos(), Ulps);
        Values(v.Map(Math.Tanh), shape, x.Tanh(), Ulps);
        Values(v.Map(Math.Abs), shape, x.Abs());
        Values(v.Map(a => a * a), shape, x.Square());
        Values(v.Map(a => 1 / a), shape, x.Reciprocal());
        Values(v.Map(a => Math.Pow(a, 3)), shape, x.Pow(3.0), Ulps);
        Values(new[] { -1.0, -1, 1, 1, 1, 0 }, [6], Tensor.FromArray([-1.5, -0.3, 0.2, 0.7, 2.0, 0.0]).Sign());
        double[] p = [0.25, 1, 2.5, 9];
        var positive = Tensor.FromArray(p);
        Values(p.Map(Math.Log), [4], positive.Log(), Ulps);
        Values(p.Map(Math.Sqrt), [4], positive.Sqrt(), Ulps);
        Values(new[] { Math.Pow(0.25, 2), 1, Math.Pow(2.5, -1), Math.Pow(9, 0.5) }, [4], positive.Pow(Tensor.FromArray([2.0, 3, -1, 0.5])), Ulps);
        // The static forms F# defines are the same functions.
        Values(v.Map(Math.Tanh), shape, Tensor.Tanh(x), Ulps);
        Values(v.Map(a => Math.Pow(a, 2)), shape, Tensor.Pow(x, 2.0), Ulps);
    }

    [Fact]
    public void Log1p_Expm1_and_Erf_keep_their_accuracy()
    {
        // ln(1 + ε) = ε − ε²/2 + … and e^ε − 1 = ε + ε²/2 + …: Math.Log(1 + ε) would lose six digits here.
        Values(new[] { 9.9999999995e-11, Math.Log(1.5) }, [2], Tensor.FromArray([1e-10, 0.5]).Log1p(), Ulps);
        Values(new[] { 1.00000000005e-10, Math.Exp(0.5) - 1 }, [2], Tensor.FromArray([1e-10, 0.5]).Expm1(), Ulps);
        // erf from tables (Abramowitz and Stegun 7.1, to 16 digits).
        Values(new[] { 0.0, 0.5204998778130465, 0.8427007929497149, -0.9953222650189527 }, [4], Tensor.FromArray([0.0, 0.5, 1.0, -2.0]).Erf(), Ulps);
    }

    [Fact]
    public void Activations_follow_their_definitions()
    {
        double[] v = [-2, -0.5, 0, 0.5, 3];
        var x = Tensor.FromArray(v);
        int[] shape = [5];
        Values(v.Map(a => 1 / (1 + Math.Exp(-a))), shape, x.Sigmoid(), Ulps);
        Values(new[] { 0.0, 0, 0, 0.5, 3 }, shape, x.Relu());
        Values(new[] { -1.0, -0.5, 0, 0.5, 1 }, shape, x.Clamp(-1, 1));
        Values(new[] { -0.02, -0.005, 0, 0.5, 3 }, shape, x.LeakyRelu(), Ulps);
        Values(new[] { -0.4, -0.1, 0, 0.5, 3 }, shape, x.LeakyRelu(0.2), Ulps);
        Values(v.Map(a => a > 0 ? a : Math.Exp(a) - 1), shape, x.Elu(), Ulps);
        Values(v.Map(a => a > 0 ? a : 2 * (Math.Exp(a) - 1)), shape, x.Elu(2.0), Ulps);
        Values(v.Map(a => Math.Log(1 + Math.Exp(a))), shape, x.Softplus(), Ulps);
        Assert.Equal(25.0, Tensor.FromArray([25.0]).Softplus().ToArray()[0]); // x itself above the threshold 20
        Values(v.Map(a => a / (1 + Math.Exp(-a))), shape, x.Silu(), Ulps);
        // x·Φ(x) with Φ(−2) = 0.02275013194817921, Φ(−0.5) = 0.3085375387259869, Φ(0.5) = 0.6914624612740131 and
        // Φ(3) = 0.9986501019683699 from tables of the normal distribution. 1e-13: 1 + erf(x/√2) cancels in the left
        // tail (Φ(−2) loses over a digit), which the implementation documents.
        Values(new[] { -0.04550026389635841, -0.15426876936299345, 0, 0.34573123063700656, 2.9959503059051097 }, shape, x.Gelu(), 1e-13);
    }

    [Fact]
    public void Comparisons_give_masks_and_extremes_broadcast()
    {
        var a = Tensor.FromArray([1.0, 2, 3]);
        var b = Tensor.FromArray([3.0, 2, 1]);
        int[] shape = [3];
        Values(new[] { 3.0, 2, 3 }, shape, Tensor.Maximum(a, b));
        Values(new[] { 1.0, 2, 1 }, shape, Tensor.Minimum(a, b));
        Values(new[] { 2.0, 2, 3 }, shape, Tensor.Maximum(a, Tensor.Scalar(2)));
        Values(new[] { 0.0, 0, 1 }, shape, a.Greater(b));
        Values(new[] { 0.0, 1, 1 }, shape, a.GreaterEqual(b));
        Values(new[] { 1.0, 0, 0 }, shape, a.Less(b));
        Values(new[] { 1.0, 1, 0 }, shape, a.LessEqual(b));
        Values(new[] { 0.0, 1, 0 }, shape, a.Equal(b));
        Values(new[] { 1.0, 0, 1 }, shape, a.NotEqual(b));
        Values(new[] { 0.0, 0, 1 }, shape, a.Greater(2));
        Values(new[] { 0.0, 1, 1 }, shape, a.GreaterEqual(2));
        Values(new[] { 1.0, 0, 0 }, shape, a.Less(2));
        Values(new[] { 1.0, 1, 0 }, shape, a.LessEqual(2));
        Values(new[] { 0.0, 1, 0 }, shape, a.Equal(2));
        Values(new[] { 1.0, 0, 1 }, shape, a.NotEqual(2));
        var nan = Tensor.FromArray([double.NaN]);
        Assert.Equal(1.0, nan.NotEqual(nan).ToScalar());
        Assert.Equal(0.0, nan.Equal(double.NaN).ToScalar());
    }
}
