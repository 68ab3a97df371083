using RnnAd.FSharp;
using RnnAd.FSharp.Storage;

namespace RnnAd;

/// <summary>
/// A sequence model and its parameters. Immutable: training returns a new model. Parameters are named as
/// PyTorch names them (<c>rnn.weight_ih_l0</c>, <c>fc.weight</c>, …) and laid out the same way, so weights
/// move between RnnAd and PyTorch unchanged.
/// </summary>
public sealed class RecurrentModel
{
    internal RecurrentModel(ModelSpec spec, NamedTensors parameters, Vocabulary? vocabulary = null)
    {
        SequenceModel.check(spec, parameters);
        Spec = spec;
        Parameters = parameters;
        Description = ModelDescription.FromSpec(spec);
        if (vocabulary is not null)
        {
            if (Description.Input == InputType.Features)
                throw new ArgumentException("A model that reads features has no vocabulary.", nameof(vocabulary));
            if (vocabulary.Count != Description.InputSize)
                throw new ArgumentException($"The vocabulary has {vocabulary.Count} tokens but the model reads {Description.InputSize}.", nameof(vocabulary));
        }
        Vocabulary = vocabulary;
    }

    internal ModelSpec Spec { get; }

    internal NamedTensors Parameters { get; }

    /// <summary>What the model is.</summary>
    public ModelDescription Description { get; }

    /// <summary>The vocabulary of a model that reads tokens, if it was given one (needed to sample text).</summary>
    public Vocabulary? Vocabulary { get; }

    internal Microsoft.FSharp.Core.FSharpOption<string[]>? VocabularyTokens =>
        Vocabulary is null ? null : Microsoft.FSharp.Core.FSharpOption<string[]>.Some(Vocabulary.Tokens.ToArray());

    /// <summary>Parameter names in PyTorch's order.</summary>
    public IReadOnlyList<string> ParameterNames => Parameters.Names;

    /// <summary>Total number of scalar parameters.</summary>
    public int ParameterCount => Parameters.NumelTotal;

    /// <summary>A new model with parameters drawn from <paramref name="seed"/> (PyTorch's default initialisation).</summary>
    public static RecurrentModel Create(ModelDescription description, int seed, Vocabulary? vocabulary = null)
    {
        ArgumentNullException.ThrowIfNull(description);
        var spec = description.ToSpec();
        return new RecurrentModel(spec, SequenceModel.init(spec, seed), vocabulary);
    }

    /// <summary>
    /// Saves the model (description, vocabulary, parameters) as a safetensors file that PyTorch's
    /// <c>safetensors.torch.load_file</c> reads too. Atomic: a failure leaves any existing file intact.
    /// </summary>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        Checkpoint.save(path, Spec, VocabularyTokens, Parameters);
    }

    /// <summary>Loads a model saved by <see cref="Save"/> or a training checkpoint; every tensor's name and shape is checked.</summary>
    /// <exception cref="System.IO.InvalidDataException">The file is not a valid checkpoint; the message says what is wrong where.</exception>
    public static RecurrentModel Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var checkpoint = Checkpoint.load(path);
        return new RecurrentModel(checkpoint.Spec, checkpoint.Parameters,
            checkpoint.Vocabulary is { } tokens ? Vocabulary.FromCore(tokens.Value) : null);
    }

    /// <summary>
    /// Continues <paramref name="prompt"/> by <paramref name="length"/> tokens of a language model with a
    /// vocabulary: greedy when <paramref name="temperature"/> is 0, else drawn from softmax(scores / temperature),
    /// among the <paramref name="topK"/> most likely when given. The same seed gives the same text.
    /// </summary>
    public string Sample(string prompt, int length, double temperature = 1.0, int seed = 0, int? topK = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        if (Vocabulary is null) throw new InvalidOperationException("Sampling text needs a model with a vocabulary; use SampleTokens for ids.");
        return Vocabulary.Decode(SampleTokens(Vocabulary.Encode(prompt), length, temperature, seed, topK));
    }

    /// <summary>The token-id form of <see cref="Sample"/>.</summary>
    public int[] SampleTokens(IReadOnlyList<int> prompt, int length, double temperature = 1.0, int seed = 0, int? topK = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var options = new SamplingOptions(temperature, topK is { } k ? Microsoft.FSharp.Core.FSharpOption<int>.Some(k) : null, seed);
        return Generation.sample(SequenceModel.model(Spec), Parameters, prompt.ToArray(), length, options);
    }

    /// <summary>The shape of a parameter.</summary>
    public int[] GetParameterShape(string name) => (int[])Find(name).Shape.Clone();

    /// <summary>A copy of a parameter's values in row-major order.</summary>
    public double[] GetParameterValues(string name) => Find(name).ToArray();

    /// <summary>A copy of this model with one parameter replaced (row-major values of the same shape).</summary>
    public RecurrentModel WithParameter(string name, IReadOnlyList<double> values) =>
        new(Spec, Parameters.Replace(name, values, "parameter"), Vocabulary);

    /// <summary>
    /// The most likely class at every step of every sequence (<see cref="OutputMode.EveryStep"/>; padded steps
    /// of shorter sequences are left out), or of every sequence (<see cref="OutputMode.LastStep"/>).
    /// </summary>
    public IReadOnlyList<int[]> Predict(SequenceBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var flat = Evaluation.predict(SequenceModel.model(Spec), Parameters, batch.Inner);
        if (Description.Output == OutputMode.LastStep) return flat.Select(c => new[] { c }).ToArray();
        var time = batch.Length;
        var mask = batch.Inner.Mask;
        return Enumerable.Range(0, batch.Count)
            .Select(i => Enumerable.Range(0, time).Where(t => mask is null || mask.Value[i * time + t] != 0.0).Select(t => flat[i * time + t]).ToArray())
            .ToArray();
    }

    /// <summary>Mean loss, accuracy and perplexity over batches (padding excluded).</summary>
    public EvaluationResult Evaluate(IEnumerable<SequenceBatch> batches)
    {
        ArgumentNullException.ThrowIfNull(batches);
        var m = Evaluation.metrics(SequenceModel.model(Spec), Parameters, batches.Select(b => b.Inner));
        return new EvaluationResult(m.Loss, m.Accuracy, m.Perplexity, m.Count);
    }

    internal RecurrentModel With(NamedTensors parameters) => new(Spec, parameters, Vocabulary);

    private Tensor Find(string name) => Parameters.Find(name, "parameter");
}

/// <summary>How well a model does on a set of batches.</summary>
/// <param name="Loss">Mean cross-entropy per counted position.</param>
/// <param name="Accuracy">Fraction of positions whose most likely class is the target.</param>
/// <param name="Perplexity">exp(Loss), the usual language-model figure.</param>
/// <param name="Count">Positions counted (steps, or sequences for classifiers).</param>
public sealed record EvaluationResult(double Loss, double Accuracy, double Perplexity, double Count);
