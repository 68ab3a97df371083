(**
---
title: Forecasting from C#, walked through
category: Tutorials
categoryindex: 1
index: 4
---
*)
(*** hide ***)
// The C# example's own build holds the facade, the core and their dependencies.
#r "../../examples/CSharpForecasting/bin/Release/net10.0/MathNet.Numerics.dll"
#r "../../examples/CSharpForecasting/bin/Release/net10.0/RnnAd.FSharp.dll"
#r "../../examples/CSharpForecasting/bin/Release/net10.0/RnnAd.CSharp.dll"
open System
open System.Diagnostics
open System.IO

let repository = Path.GetFullPath(Path.Combine(__SOURCE_DIRECTORY__, "..", ".."))
/// Where this page's pictures go: the site's figures folder when docs/build.sh builds the site.
let figures =
    let site = Environment.GetEnvironmentVariable "RNNAD_DOCS_FIGURES"
    let root = if String.IsNullOrEmpty site then Path.Combine(repository, "artifacts", "docs-site", "figures") else site
    Directory.CreateDirectory(Path.Combine(root, "csharp-forecasting")).FullName
(**
# Forecasting from C#, walked through

RnnAd's C# facade (the `RnnAd.CSharp` package, namespace `RnnAd`) trains and runs recurrent models from C#
without any F# type in sight. This page walks through the forecasting example in
`examples/CSharpForecasting`: an LSTM learns to forecast the next 12 values of a noisy series with a trend and
two seasons, and is compared with two baselines on a stretch of the series it never saw.

**How this page is executed.** The site's tool runs F#, not C#. So the page does two things at build time:
it runs the *same steps* through the C# facade from F# (the facade is an ordinary .NET library; the calls are
the C# program's, in F# syntax), and it runs the compiled C# program itself and shows its real output. Both
use the example's quick settings (30 epochs, every other window), and the page's build fails unless the two
print the same numbers.

## The program

Here is `examples/CSharpForecasting/Program.cs`, whole (the build checks that this copy is the file as it is):

```csharp
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
```

`SyntheticSeries.Generate` (in the same folder) draws 20 + 0.01·t + 4·sin(2πt/24) + 2·sin(2πt/60 + 1) plus
Gaussian noise of standard deviation 0.6, from `System.Random(seed)`. Run it with
`dotnet run -c Release --project examples/CSharpForecasting` (add `-- --quick` for the short version).

## The same steps, executed

**The series.** 1,440 steps; the last 240 are held out for the comparison. The network trains on values
standardised with the *training part's* mean and standard deviation, so nothing about the held-out tail leaks
into training.
*)
open RnnAd

let quick = true // the example's --quick: 30 epochs, windows every 2 steps
let window, horizon, season, tail = 48, 12, 24, 240

let series =
    let random = Random(3)
    Array.init 1440 (fun t ->
        let noise = sqrt (-2.0 * log (1.0 - random.NextDouble())) * cos (2.0 * Math.PI * random.NextDouble())
        20.0 + 0.01 * float t + 4.0 * sin (2.0 * Math.PI * float t / 24.0) + 2.0 * sin (2.0 * Math.PI * float t / 60.0 + 1.0) + 0.6 * noise)

let train = series.[.. series.Length - tail - 1]
let mean = Linq.Enumerable.Average train
let std = sqrt (Linq.Enumerable.Average(train, fun v -> (v - mean) * (v - mean)))
let scaled = series |> Array.map (fun v -> (v - mean) / std)
printfn "series of %d values, first %s; training part: mean %.4f, standard deviation %.4f"
    series.Length (series.[..3] |> Array.map (sprintf "%.3f") |> String.concat " ") mean std
(*** include-output ***)
(**
**The windows.** `SequenceDataset.ForForecasting` cuts the training part into inputs of 48 consecutive values,
each with the 12 values that follow as its target: a many-to-one regression with 12 outputs.
*)
let data = SequenceDataset.ForForecasting(scaled.[.. scaled.Length - tail - 1], window, horizon, stride = (if quick then 2 else 1))
printfn "%d windows of %d steps, each with the next %d values as its target" data.Count window horizon
(*** include-output ***)
(**
**The model.** One LSTM layer of 32 units reads one feature per step; a linear head maps its final state to
the 12 values. `Build(seed: 1)` draws the initial weights from that seed, PyTorch's way, so the run is the
same bits every time on the same machine.
*)
let model = ModelBuilder().Lstm(hiddenSize = 32).Features(1).PredictValuesLastStep(horizon).Build(seed = 1)
printfn "%d parameters: %s" model.ParameterCount
    (model.ParameterNames |> Seq.map (fun name -> sprintf "%s (%s)" name (String.concat ", " (Array.map string (model.GetParameterShape name)))) |> String.concat ", ")
(*** include-output ***)
(**
**Training.** Adam at rate 0.01, batches of 32 windows, the gradient's norm clipped to 1, mean squared error
(the default loss for values). The trainer returns a trained copy; the model it was given is unchanged.
*)
let options = TrainerOptions(LearningRate = 0.01, Epochs = (if quick then 30 else 40), BatchSize = 32, ClipNorm = Nullable 1.0, Seed = 2)
let result = Trainer(options).Fit(model, data)
let trained = result.Model
for epoch in result.Epochs do
    if epoch.Epoch = 0 || (epoch.Epoch + 1) % 5 = 0 then
        printfn "epoch %2d/%d  training loss (MSE, standardised) %.4f" (epoch.Epoch + 1) result.Epochs.Count epoch.TrainingLoss
(*** include-output ***)
(**
**Forecasting the held-out tail.** From every 12th step of the tail, the model reads the 48 true values before
it and forecasts the next 12. Two baselines do the same without learning anything: repeat the last value, and
repeat the value one season (24 steps) back.
*)
let actual = series.[series.Length - tail ..]
let lstm, lastValue, seasonal = ResizeArray<float>(), ResizeArray<float>(), ResizeArray<float>()
for origin in series.Length - tail .. horizon .. series.Length - 1 do
    lstm.AddRange(trained.Forecast(scaled.[origin - window .. origin - 1]) |> Array.map (fun v -> v * std + mean))
    lastValue.AddRange(Array.replicate horizon series.[origin - 1])
    seasonal.AddRange(Array.init horizon (fun h -> series.[origin - season + h % season]))

let rmse (forecast: ResizeArray<float>) = sqrt (Seq.map2 (fun f a -> (f - a) * (f - a)) forecast actual |> Seq.average)
let mae (forecast: ResizeArray<float>) = Seq.map2 (fun f a -> abs (f - a)) forecast actual |> Seq.average
let table =
    [ yield sprintf "%-16s%8s%8s" "method" "RMSE" "MAE"
      for name, forecast in [ "LSTM", lstm; "last value", lastValue; "seasonal naive", seasonal ] do
          yield sprintf "%-16s%8.3f%8.3f" name (rmse forecast) (mae forecast)
      yield sprintf "LSTM RMSE / last-value RMSE = %.3f" (rmse lstm / rmse lastValue) ]
table |> List.iter (printfn "%s")
(*** include-output ***)
(*** hide ***)
if rmse lstm >= rmse lastValue || rmse lstm >= rmse seasonal then failwith "the LSTM no longer beats both baselines"
(**
The LSTM beats both baselines on data it never saw: it has learned the two seasons and the trend, which the
last value ignores and the seasonal-naive forecast only half captures (it repeats yesterday's noise and misses
the 60-step season). How far it beats them depends on the matrix-product provider in use: the managed kernel
and OpenBLAS round their sums differently, and training carries that apart (the README gives both providers'
figures, quick and full).

## The C# program's own output

The compiled C# example, run now with `--quick`:
*)
let run =
    let start = ProcessStartInfo("dotnet", [ Path.Combine(repository, "examples/CSharpForecasting/bin/Release/net10.0/CSharpForecasting.dll"); "--quick"; "--output"; figures ])
    start.RedirectStandardOutput <- true
    start.RedirectStandardError <- true
    start.WorkingDirectory <- repository
    use p = Process.Start start
    let output = p.StandardOutput.ReadToEnd()
    let errors = p.StandardError.ReadToEnd()
    p.WaitForExit()
    if p.ExitCode <> 0 then failwithf "the C# example failed (exit %d): %s%s" p.ExitCode output errors
    output.Replace(figures, "figures/csharp-forecasting").TrimEnd()
printfn "%s" run
(*** include-output ***)
(*** hide ***)
// The page's claims: the program shown is the file, and the F# steps reproduce the C# program's numbers.
let shownProgram =
    let page = File.ReadAllText(Path.Combine(__SOURCE_DIRECTORY__, "csharp-forecasting.fsx")).Replace("\r\n", "\n")
    let start = page.IndexOf("```csharp\n") + "```csharp\n".Length
    page.Substring(start, page.IndexOf("\n```", start) - start)
let programFile = File.ReadAllText(Path.Combine(repository, "examples/CSharpForecasting/Program.cs")).Replace("\r\n", "\n").TrimEnd('\n')
if shownProgram <> programFile then failwith "the page shows another Program.cs than examples/CSharpForecasting/Program.cs; copy the file into the page"
for line in table do
    if not (run.Split('\n') |> Array.exists (fun l -> l.TrimEnd() = line.TrimEnd())) then
        failwithf "the C# program did not print the line the F# steps computed: '%s'" line
File.Copy(Path.Combine(repository, "examples/images/csharp-forecast.png"), Path.Combine(figures, "forecast-full.png"), true)
(**
Same numbers, line for line. The picture it wrote (quick settings): the series' last 480 steps, and the
LSTM's forecasts over the held-out 240.

![LSTM forecasts against the actual series, quick settings](../figures/csharp-forecasting/forecast.png)

The same picture from the full settings, as the README shows it:
[forecast-full.png](../figures/csharp-forecasting/forecast-full.png).

## Where next

- The facade's types — `ModelBuilder`, `SequenceDataset`, `Trainer`, `TrainerOptions`, `RecurrentModel` — are in
  the [API reference](../reference/rnnad.html), namespace `RnnAd`.
- A model predicts classes or values, at every step or once per sequence; `PredictProbabilities`,
  `HiddenStates`, `FinalStates` and `OpenStream` give every output; `GradientCheck.Compare` checks a model's
  gradients from C# (see [Gradient checking](gradient-checking.html)).
*)
