// RnnAd quickstart: train a character LSTM on a short text, save it, load it back and sample from it.
// Run: dotnet run -c Release --project examples/CSharpQuickstart [-- --quick]
using RnnAd;

const string text = """
    if you want to build a ship, don't drum up people together to collect wood and don't assign them
    tasks and work, but rather teach them to long for the endless immensity of the sea.
    """;
var epochs = args.Contains("--quick") ? 5 : 60;

var vocabulary = Vocabulary.FromCharacters(text);
var model = new ModelBuilder()
    .Lstm(hiddenSize: 128).Layers(2)
    .Embedding(vocabulary.Count, embeddingSize: 16)
    .PredictEveryStep(vocabulary.Count)
    .Build(seed: 42, vocabulary);
var data = SequenceDataset.ForLanguageModel(text, vocabulary, windowLength: 32, stride: 4);

var options = new TrainerOptions { Optimizer = OptimizerType.Adam, LearningRate = 0.01, Epochs = epochs, BatchSize = 16, ClipNorm = 1.0, Seed = 7 };
var progress = new Progress<TrainingProgress>(p =>
{
    if (p.CompletedEpoch is { } e && (e.Epoch % 10 == 9 || e.Epoch == epochs - 1))
        Console.WriteLine($"epoch {e.Epoch + 1,3}/{epochs}  loss {e.TrainingLoss:F4}  {p.StepsPerSecond:F1} batches/s");
});
var result = new Trainer(options).Fit(model, data, progress: progress);

var path = Path.Combine(Path.GetTempPath(), "rnnad-quickstart.safetensors");
result.Model.Save(path);
var loaded = RecurrentModel.Load(path);
Console.WriteLine($"saved and reloaded {loaded.ParameterCount:N0} parameters from {Path.GetFileName(path)}");

Console.WriteLine("greedy:      if you want" + loaded.Sample("if you want", length: 80, temperature: 0));
Console.WriteLine("temperature: if you want" + loaded.Sample("if you want", length: 80, temperature: 0.8, seed: 1));
