/// <summary>The series the example forecasts: a trend, a daily and a slower season, and noise, from a seed.</summary>
internal static class SyntheticSeries
{
    /// <summary>Values at steps 0 … length − 1: 20 + 0.01·t + 4·sin(2πt/24) + 2·sin(2πt/60 + 1) + N(0, 0.6²).</summary>
    public static double[] Generate(int length, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(t =>
        {
            // Box–Muller: two uniforms give one standard normal draw.
            var noise = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            return 20 + 0.01 * t + 4 * Math.Sin(2 * Math.PI * t / 24) + 2 * Math.Sin(2 * Math.PI * t / 60 + 1) + 0.6 * noise;
        }).ToArray();
    }
}

/// <summary>Forecast errors.</summary>
internal static class Metrics
{
    /// <summary>Root mean squared error.</summary>
    public static double Rmse(IReadOnlyList<double> forecast, IReadOnlyList<double> actual) =>
        Math.Sqrt(forecast.Zip(actual, (f, a) => (f - a) * (f - a)).Average());

    /// <summary>Mean absolute error.</summary>
    public static double Mae(IReadOnlyList<double> forecast, IReadOnlyList<double> actual) =>
        forecast.Zip(actual, (f, a) => Math.Abs(f - a)).Average();
}
