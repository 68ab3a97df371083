namespace RnnAd.CSharp.Tests;

/// <summary>Comparisons of a tensor with values worked out in the test.</summary>
internal static class TensorAssert
{
    /// <summary>
    /// The tensor has this shape and these row-major values, each within <paramref name="tolerance"/> relative to
    /// max(1, |expected|) (0 demands equal values; NaN must meet NaN).
    /// </summary>
    public static void Values(double[] expected, int[] shape, Tensor actual, double tolerance = 0.0)
    {
        Assert.Equal(shape, actual.Shape);
        Values(expected, actual.ToArray(), tolerance);
    }

    /// <summary>The values equal the expected ones within <paramref name="tolerance"/> relative to max(1, |expected|).</summary>
    public static void Values(double[] expected, double[] actual, double tolerance = 0.0)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            var ok = double.IsNaN(expected[i])
                ? double.IsNaN(actual[i])
                : Math.Abs(expected[i] - actual[i]) <= tolerance * Math.Max(1.0, Math.Abs(expected[i]));
            Assert.True(ok, $"entry {i}: expected {expected[i]:R}, got {actual[i]:R} (tolerance {tolerance})");
        }
    }

    /// <summary>f applied to every value.</summary>
    public static double[] Map(this double[] values, Func<double, double> f) => values.Select(f).ToArray();
}
