using ScottPlot;

/// <summary>The picture of the forecast against the actual values.</summary>
internal static class ForecastPlot
{
    /// <summary>Writes forecast.png into <paramref name="folder"/>: the series' last stretch and the tail's forecasts; returns the path.</summary>
    public static string Write(string folder, double[] series, IReadOnlyList<double> forecast, int tail)
    {
        Directory.CreateDirectory(folder);
        var plot = new Plot();
        var shown = 2 * tail;
        var start = series.Length - shown;
        var actual = plot.Add.Scatter(Enumerable.Range(start, shown).Select(t => (double)t).ToArray(), series[start..]);
        actual.LegendText = "actual";
        actual.MarkerSize = 0;
        var predicted = plot.Add.Scatter(Enumerable.Range(series.Length - tail, tail).Select(t => (double)t).ToArray(), forecast.Take(tail).ToArray());
        predicted.LegendText = "LSTM forecast (12 ahead, rolling)";
        predicted.MarkerSize = 0;
        predicted.LineWidth = 2;
        plot.Add.VerticalLine(series.Length - tail, pattern: LinePattern.Dashed);
        plot.Title("Held-out tail: LSTM forecasts against the actual series");
        plot.XLabel("step");
        plot.YLabel("value");
        plot.ShowLegend(Alignment.UpperLeft);
        var path = Path.Combine(folder, "forecast.png");
        plot.SavePng(path, 1000, 420);
        return path;
    }
}
