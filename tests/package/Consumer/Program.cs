// The package check's program (tests/package/check.sh builds it in a fresh folder, against the packages only).
//
//   Consumer                          trains a small character LSTM with the public C# API of the RnnAd package,
//                                     saves it, loads it back and samples from it, checking each result
//   Consumer inspect FEED VERSION [COMMIT]
//                                     checks the packages in FEED: ids, version, metadata, readmes, dependencies,
//                                     and that each library's .snupkg holds the PDB of its DLL with the sources
//
// It uses only what examples/CSharpQuickstart uses. Each check prints one line; a failure throws, so the
// program exits non-zero with the reason.
using RnnAd;

if (args.Length > 0 && args[0] == "inspect")
{
    PackageInspection.Run(feed: args[1], version: args[2], commit: args.Length > 3 ? args[3] : null);
    return;
}

const string text = """
    if you want to build a ship, don't drum up people together to collect wood and don't assign them
    tasks and work, but rather teach them to long for the endless immensity of the sea.
    """;
const int epochs = 12;

var vocabulary = Vocabulary.FromCharacters(text);
var model = new ModelBuilder()
    .Lstm(hiddenSize: 48)
    .Embedding(vocabulary.Count, embeddingSize: 8)
    .PredictEveryStep(vocabulary.Count)
    .Build(seed: 42, vocabulary);
var data = SequenceDataset.ForLanguageModel(text, vocabulary, windowLength: 24, stride: 4);

var losses = new EpochLosses();
var options = new TrainerOptions { Optimizer = OptimizerType.Adam, LearningRate = 0.02, Epochs = epochs, BatchSize = 16, ClipNorm = 1.0, Seed = 7 };
var result = new Trainer(options).Fit(model, data, progress: losses);

Check.That(losses.Values.Count == epochs, $"one loss per epoch: got {losses.Values.Count} for {epochs} epochs");
var first = losses.Values[0];
var last = losses.Values[^1];
// A uniform guess scores ln(vocabulary); this model, seed and text go far below half of the first epoch's loss.
Check.That(double.IsFinite(last) && last < 0.5 * first, $"the loss falls: {first:F4} -> {last:F4}");
Console.WriteLine($"trained: {epochs} epochs, loss {first:F4} -> {last:F4} (uniform guess ln {vocabulary.Count} = {Math.Log(vocabulary.Count):F4})");

var folder = Path.Combine(Path.GetTempPath(), $"rnnad-package-check-{Environment.ProcessId}");
Directory.CreateDirectory(folder);
try
{
    var path = Path.Combine(folder, "model.safetensors");
    result.Model.Save(path);
    Check.That(new FileInfo(path).Length > 0, $"{path} was written");
    var loaded = RecurrentModel.Load(path);
    Check.That(loaded.ParameterCount == result.Model.ParameterCount,
        $"the loaded model has the saved one's {result.Model.ParameterCount:N0} parameters (got {loaded.ParameterCount:N0})");
    Console.WriteLine($"saved and loaded: {loaded.ParameterCount:N0} parameters, {new FileInfo(path).Length:N0} bytes");

    const string prompt = "if you want";
    var greedy = loaded.Sample(prompt, length: 60, temperature: 0);
    Check.That(greedy == result.Model.Sample(prompt, length: 60, temperature: 0), "the loaded model samples what the trained one does");
    Check.That(greedy.Length == 60, $"60 characters sampled (got {greedy.Length})");
    Check.That(greedy.All(c => text.Contains(c)), $"every sampled character is one of the text's: '{greedy}'");
    var drawn = loaded.Sample(prompt, length: 60, temperature: 0.8, seed: 1);
    Check.That(drawn == loaded.Sample(prompt, length: 60, temperature: 0.8, seed: 1), "the same seed draws the same sample");
    Console.WriteLine($"sampled:  greedy '{prompt}{greedy}'");
    Console.WriteLine($"          t=0.8  '{prompt}{drawn}'");
}
finally
{
    Directory.Delete(folder, recursive: true);
}

/// <summary>Collects each epoch's training loss as it is reported (synchronously, unlike Progress&lt;T&gt;).</summary>
sealed class EpochLosses : IProgress<TrainingProgress>
{
    public List<double> Values { get; } = new();

    public void Report(TrainingProgress value)
    {
        if (value.CompletedEpoch is { } e) Values.Add(e.TrainingLoss);
    }
}

static class Check
{
    public static void That(bool condition, string what)
    {
        if (!condition) throw new InvalidOperationException("check failed: " + what);
    }
}
