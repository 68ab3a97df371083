// RnnAd forecasting: an LSTM forecasts the next 12 values of a noisy series with a trend and two seasons,
// against the last-value and seasonal-naive baselines on a held-out tail. Run:
// dotnet run -c Release --project examples/CSharpForecasting [-- --quick] [--output folder]
using RnnAd;

const int window = 48, horizon = 12, season = 24, tail = 240;
var quick = args.Contains("--quick");
var folder = args.SkipWhile(a => a != "--output").Skip(1).FirstOrDefault() ?? "rnnad-forecasting";
var series = SyntheticSeries.Generate(length: 1440, seed: 3);

// Standardise with the training part's statistics, so the tail stays unseen.
var train = series[..^tail];
double mean = train.Average(), std = Math.Sqrt(train.Average(v => (v - mean) * (v - mean)));
var scaled = series.Select(v => (v - mean) / std).ToArray();
var data = SequenceDataset.ForForecasting(scaled[..^tail], window, horizon, stride: quick ? 2 : 1);

var model = new ModelBuilder().Lstm(hiddenSize: 32).Features(1).PredictValuesLastStep(horizon).Build(seed: 1);
var options = new TrainerOptions { LearningRate = 0.01, Epochs = quick ? 30 : 40, BatchSize = 32, ClipNorm = 1.0, Seed = 2 };
var trained = new Trainer(options).Fit(model, data).Model;

// Rolling forecasts over the tail: from each origin, the next 12 values from the true history before it.
var actual = series[^tail..];
var lstm = new List<double>();
var lastValue = new List<double>();
var seasonal = new List<double>();
for (var origin = series.Length - tail; origin < series.Length; origin += horizon)
{
    lstm.AddRange(trained.Forecast(scaled[(origin - window)..origin]).Select(v => v * std + mean));
    lastValue.AddRange(Enumerable.Repeat(series[origin - 1], horizon));
    seasonal.AddRange(Enumerable.Range(0, horizon).Select(h => series[origin - season + h % season]));
}

Console.WriteLine($"held-out tail of {tail} steps, forecast {horizon} ahead from every {horizon}th step:");
Console.WriteLine($"{"method",-16}{"RMSE",8}{"MAE",8}");
foreach (var (name, forecast) in new[] { ("LSTM", lstm), ("last value", lastValue), ("seasonal naive", seasonal) })
    Console.WriteLine($"{name,-16}{Metrics.Rmse(forecast, actual),8:F3}{Metrics.Mae(forecast, actual),8:F3}");
Console.WriteLine($"LSTM RMSE / last-value RMSE = {Metrics.Rmse(lstm, actual) / Metrics.Rmse(lastValue, actual):F3}");
Console.WriteLine($"wrote {ForecastPlot.Write(folder, series, lstm, tail)}");
