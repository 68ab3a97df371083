using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
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
    private RecurrentModel(ModelDescription description, ModelSpec spec, NamedTensors parameters, Vocabulary? vocabulary, IReadOnlyList<string>? classNames = null)
    {
        SequenceModel.check(spec, parameters);
        Spec = spec;
        Core = SequenceModel.model(spec);
        Parameters = parameters;
        Description = description;
        if (vocabulary is not null)
        {
            if (Description.Input == InputType.Features)
                throw new ArgumentException("A model that reads features has no vocabulary.", nameof(vocabulary));
            if (vocabulary.Count != Description.InputSize)
                throw new ArgumentException($"The vocabulary has {vocabulary.Count} tokens but the model reads {Description.InputSize}.", nameof(vocabulary));
        }
        Vocabulary = vocabulary;
        if (classNames is not null && RnnAd.FSharp.ClassNames.problem(spec.Outputs, classNames.ToArray()) is { } problem)
            throw new ArgumentException(problem.Value, nameof(classNames));
        ClassNames = classNames?.ToArray();
    }

    internal ModelSpec Spec { get; }

    /// <summary>The model as the value the core's services take.</summary>
    internal Model Core { get; }

    internal NamedTensors Parameters { get; }

    /// <summary>What the model is.</summary>
    public ModelDescription Description { get; }

    /// <summary>The vocabulary of a model that reads tokens, if it was given one (needed to sample text).</summary>
    public Vocabulary? Vocabulary { get; }

    /// <summary>The names of the classes the model's outputs score, if it was given them (saved and loaded with it).</summary>
    public IReadOnlyList<string>? ClassNames { get; }

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
        return new RecurrentModel(description, spec, SequenceModel.init(spec, seed), vocabulary);
    }

    /// <summary>
    /// Saves the model (description, vocabulary, parameters) as a safetensors file that PyTorch's
    /// <c>safetensors.torch.load_file</c> reads too. Atomic: a failure leaves any existing file intact.
    /// </summary>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (ClassNames is { } names) RnnAd.FSharp.ClassNames.save(path, Spec, VocabularyTokens, Parameters, names.ToArray());
        else Checkpoint.save(path, Spec, VocabularyTokens, Parameters);
    }

    /// <summary>A copy of this model that carries the names of its classes, one per output (as a dataset read from CSV gives them).</summary>
    public RecurrentModel WithClassNames(IEnumerable<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        return new RecurrentModel(Description, Spec, Parameters, Vocabulary, classNames.ToArray());
    }

    /// <summary>Saves the model to a stream, from its position (the stream stays open; the caller decides where it goes).</summary>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Checkpoint.saveTo("stream", stream, Spec, VocabularyTokens, Parameters);
    }

    /// <summary>
    /// Writes the model as an ONNX file (operator set 17) that ONNX Runtime and other engines run: input <c>tokens</c>
    /// (int64 ids, batch × time) or <c>features</c> (batch × time × size), output <c>outputs</c> or
    /// <c>probabilities</c> (batch × time × width per step, batch × width per sequence), batch and time of any size.
    /// Sequences padded at the end need <see cref="OnnxExportOptions.SequenceLengths"/>. Atomic: a failure leaves any
    /// existing file intact.
    /// </summary>
    /// <exception cref="ArgumentException">ONNX cannot express the model (a custom cell), the options ask for
    /// probabilities of a regression model, or a weight is not finite (or beyond float32's range in float32); the
    /// message says which.</exception>
    public void ExportOnnx(string path, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        Onnx.exportFile(Spec, Parameters, (options ?? new OnnxExportOptions()).ToCore(), path);
    }

    /// <summary>Writes the model as ONNX to a stream (see <see cref="ExportOnnx(string, OnnxExportOptions?)"/>); nothing is written for a refused model.</summary>
    public void ExportOnnx(Stream stream, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Onnx.export(Spec, Parameters, (options ?? new OnnxExportOptions()).ToCore(), stream);
    }

    /// <summary>
    /// Loads a model saved by <see cref="Save(string)"/>, a training checkpoint, or a PyTorch state dict saved as
    /// safetensors (its model read from the tensors' names and shapes; what they cannot tell goes in
    /// <paramref name="options"/>, and the error says what that is). Every tensor's name, shape and values are
    /// checked. A model of custom cells or losses needs them in <paramref name="options"/>.
    /// </summary>
    /// <exception cref="System.IO.InvalidDataException">The file is not a valid checkpoint; the message says what is wrong where.</exception>
    public static RecurrentModel Load(string path, ModelLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new ModelLoadOptions();
        return FromCheckpoint(path, InCSharpTerms(() => Checkpoint.loadWith(options.ToCore(), path)), options);
    }

    /// <summary>Loads a model from a stream holding a checkpoint, from its position to its end (see <see cref="Load(string, ModelLoadOptions?)"/>).</summary>
    public static RecurrentModel Load(Stream stream, ModelLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        options ??= new ModelLoadOptions();
        return FromCheckpoint("stream", InCSharpTerms(() => Checkpoint.loadFrom(options.ToCore(), "stream", stream)), options);
    }

    /// <summary>
    /// Runs a load whose errors name the core's option for the head (<c>Head</c>) as <see cref="ModelLoadOptions"/> names it
    /// (<see cref="ModelLoadOptions.Output"/>); the other options it may ask for have the same names here.
    /// </summary>
    private static ModelCheckpoint InCSharpTerms(Func<ModelCheckpoint> load)
    {
        try
        {
            return load();
        }
        catch (InvalidDataException e) when (e.Message.Contains("give Head", StringComparison.Ordinal))
        {
            throw new InvalidDataException(e.Message.Replace("give Head", "give Output", StringComparison.Ordinal), e);
        }
    }

    /// <summary>The model a loaded checkpoint holds; a vocabulary the model cannot use is an invalid file, not a bad argument.</summary>
    internal static RecurrentModel FromCheckpoint(string path, ModelCheckpoint checkpoint, ModelLoadOptions options)
    {
        Vocabulary? vocabulary = null;
        if (checkpoint.Vocabulary is { } tokens)
        {
            try
            {
                vocabulary = Vocabulary.FromCore(tokens.Value);
            }
            catch (ArgumentException e)
            {
                throw new InvalidDataException($"checkpoint '{path}': its vocabulary cannot be used: {e.Message}", e);
            }
        }
        var spec = checkpoint.Spec;
        var classNames = RnnAd.FSharp.ClassNames.ofMetadata(path, spec.Outputs, checkpoint.Metadata);
        return new RecurrentModel(ModelDescription.FromSpec(spec, options.CustomCells, options.CustomLosses), spec, checkpoint.Parameters, vocabulary, classNames?.Value);
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
        return Generation.sample(Core, Parameters, prompt.ToArray(), length, options);
    }

    /// <summary>The shape of a parameter.</summary>
    public int[] GetParameterShape(string name) => (int[])Find(name).Shape.Clone();

    /// <summary>A copy of a parameter's values in row-major order.</summary>
    public double[] GetParameterValues(string name) => Find(name).ToArray();

    /// <summary>A copy of this model with one parameter replaced (row-major values of the same shape).</summary>
    public RecurrentModel WithParameter(string name, IReadOnlyList<double> values) =>
        With(Parameters.Replace(name, values, "parameter"));

    /// <summary>
    /// The most likely class at every step of every sequence (<see cref="OutputMode.EveryStep"/>; padded steps
    /// of shorter sequences are left out), or of every sequence (<see cref="OutputMode.LastStep"/>). The batch's
    /// targets, if any, are not read.
    /// </summary>
    public IReadOnlyList<int[]> Predict(SequenceBatch batch) =>
        PredictValues(batch).Select(steps => steps.Select(ArgMax).ToArray()).ToArray();

    /// <summary>
    /// The head's raw outputs: the predicted values of a regression model, the class scores (logits) of a
    /// classifier. One row per step of every sequence (padded steps left out), or one row per sequence for
    /// <see cref="OutputMode.LastStep"/>. The batch's targets, if any, are not read.
    /// </summary>
    public IReadOnlyList<double[][]> PredictValues(SequenceBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return PerSequence(Evaluation.outputs(Core, Parameters, batch.Inner), batch, Description.Output == OutputMode.EveryStep);
    }

    /// <summary>
    /// The values a per-sequence value model (<see cref="ModelBuilder.PredictValuesLastStep"/>) predicts after reading
    /// <paramref name="history"/>, one step per entry: the next values of a forecast of a series of one feature.
    /// </summary>
    public double[] Forecast(IReadOnlyList<double> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        return Forecast(history.Select(v => new[] { v }).ToArray());
    }

    /// <summary>The multivariate form of <see cref="Forecast(IReadOnlyList{double})"/>: <paramref name="history"/> is time → features.</summary>
    public double[] Forecast(IReadOnlyList<double[]> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        if (Description.Output != OutputMode.LastStep || Description.Loss.ComparesClasses)
            throw new InvalidOperationException("Forecast needs a model that predicts values once per sequence (PredictValuesLastStep).");
        return PredictValues(SequenceBatch.FromFeatures(new[] { history.ToArray() }))[0][0];
    }

    /// <summary>
    /// Class probabilities, laid out as <see cref="PredictValues"/>: the softmax of the scores for a cross-entropy
    /// model, the logistic function of each for a multi-label (binary cross-entropy) one.
    /// </summary>
    /// <exception cref="InvalidOperationException">The model predicts real values, which have no probabilities.</exception>
    public IReadOnlyList<double[][]> PredictProbabilities(SequenceBatch batch)
    {
        var values = PredictValues(batch);
        if (Description.Loss.IsMultiLabel) return values.Select(steps => steps.Select(row => row.Select(Logistic).ToArray()).ToArray()).ToArray();
        if (!Description.Loss.ComparesClasses)
            throw new InvalidOperationException($"The {Description.Loss.Name} loss makes this a regression model: its outputs are values, not scores; use PredictValues.");
        return values.Select(steps => steps.Select(Softmax).ToArray()).ToArray();
    }

    /// <summary>
    /// The top layer's state after every step of every sequence (padded steps left out), forward and backward
    /// halves side by side for a bidirectional model, as PyTorch's outputs of the recurrent layer.
    /// </summary>
    public IReadOnlyList<double[][]> HiddenStates(SequenceBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var states = SequenceModel.hiddenStates(Spec, Parameters, RunOptions.Default, batch.Inner).Item1;
        return PerSequence(states.Value, batch, everyStep: true);
    }

    /// <summary>The state every layer and direction ends the batch in, in PyTorch's h_n (and c_n) layout.</summary>
    public RecurrentState FinalStates(SequenceBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return RecurrentState.FromCore(Core.Forward.Invoke(Parameters).Invoke(RunOptions.Default).Invoke(batch.WithoutTargets().Inner).Item2);
    }

    /// <summary>
    /// A stream that runs sequences piece by piece, carrying the state from one piece to the next: feeding a
    /// sequence in pieces gives the outputs of one call, to the bit. Not for bidirectional models, whose backward
    /// direction reads the future.
    /// </summary>
    public ModelStream OpenStream()
    {
        if (!Core.Streamable) throw new InvalidOperationException("A bidirectional model cannot run piece by piece: its backward direction reads the whole sequence.");
        return new ModelStream(this);
    }

    /// <summary>Mean loss and the metrics that apply to the model's loss over batches (padding excluded).</summary>
    public EvaluationResult Evaluate(IEnumerable<SequenceBatch> batches)
    {
        ArgumentNullException.ThrowIfNull(batches);
        return EvaluationResult.FromCore(Evaluation.metrics(Core, Parameters, batches.Select(b => b?.Inner ?? throw new ArgumentNullException(nameof(batches), "A batch is null."))), ClassNames);
    }

    internal RecurrentModel With(NamedTensors parameters) => new(Description, Spec, parameters, Vocabulary, ClassNames);

    /// <summary>Outputs (batch, time, width) or (batch, width) as one array of rows per sequence, padded steps left out.</summary>
    internal static IReadOnlyList<double[][]> PerSequence(RawTensor values, SequenceBatch batch, bool everyStep)
    {
        var width = values.Shape[^1];
        var flat = values.ToArray();
        double[] Row(int r) => flat.AsSpan(r * width, width).ToArray();
        var time = batch.Length;
        var mask = batch.Inner.Mask;
        return Enumerable.Range(0, batch.Count)
            .Select(i => everyStep
                ? Enumerable.Range(0, time).Where(t => mask is null || mask.Value[i * time + t] != 0.0).Select(t => Row(i * time + t)).ToArray()
                : new[] { Row(i) })
            .ToArray();
    }

    private static int ArgMax(double[] row)
    {
        var best = 0;
        for (var j = 1; j < row.Length; j++)
            if (row[j] > row[best] || double.IsNaN(row[j])) best = j;
        return best;
    }

    private static double Logistic(double z) => z >= 0 ? 1 / (1 + Math.Exp(-z)) : Math.Exp(z) / (1 + Math.Exp(z));

    private static double[] Softmax(double[] scores)
    {
        var max = scores.Max();
        var e = scores.Select(s => Math.Exp(s - max)).ToArray();
        var sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    private Tensor Find(string name) => Parameters.Find(name, "parameter");
}

/// <summary>
/// How <see cref="RecurrentModel.Load(string, ModelLoadOptions?)"/> reads a checkpoint: the custom cells and losses a checkpoint of RnnAd may
/// name, and, for a plain PyTorch state dict (a <c>model.state_dict()</c> saved as safetensors, without RnnAd's
/// description), what its weights cannot tell. Loading says exactly which of these it needs.
/// </summary>
public sealed record ModelLoadOptions
{
    /// <summary>The custom cells the checkpoint may name (a checkpoint stores a custom cell's name only).</summary>
    public IReadOnlyList<CustomCell> CustomCells { get; init; } = Array.Empty<CustomCell>();

    /// <summary>The custom losses the checkpoint may name.</summary>
    public IReadOnlyList<LossFunction> CustomLosses { get; init; } = Array.Empty<LossFunction>();

    /// <summary>A state dict's model, given whole, instead of inferring it from the weights' names and shapes.</summary>
    public ModelDescription? Description { get; init; }

    /// <summary>A state dict's module names renamed to RnnAd's (e.g. "lstm." → "rnn.", "linear." → "fc."); found from the shapes when empty.</summary>
    public IReadOnlyDictionary<string, string> ModuleNames { get; init; } = new Dictionary<string, string>();

    /// <summary>Whether a state dict's model predicts at every step or once per sequence (no weight says it).</summary>
    public OutputMode? Output { get; init; }

    /// <summary>For a state dict without an embedding: whether its layers read one-hot token ids (<see cref="InputType.OneHot"/>) or features.</summary>
    public InputType? Input { get; init; }

    /// <summary>A state dict's cell when the weights leave a choice (a one-gate RNN is tanh or relu).</summary>
    public CellType? Cell { get; init; }

    /// <summary>The loss a state dict's model is trained with (weights do not store it); cross-entropy when null.</summary>
    public LossFunction? Loss { get; init; }

    internal LoadOptions ToCore()
    {
        ArgumentNullException.ThrowIfNull(CustomCells);
        ArgumentNullException.ThrowIfNull(CustomLosses);
        ArgumentNullException.ThrowIfNull(ModuleNames);
        if (Input == InputType.Embedding)
            throw new ArgumentException("Input tells a state dict without an embedding apart: OneHot or Features; an embedding is found from its weight.", nameof(Input));
        if (Cell == CellType.Custom)
            throw new ArgumentException("Cell names a built-in cell a state dict's weights leave open; a custom cell goes in CustomCells.", nameof(Cell));
        return new LoadOptions(
            ListModule.OfSeq(CustomCells.Select(c => (c ?? throw new ArgumentNullException(nameof(CustomCells), "A custom cell is null.")).Core)),
            ListModule.OfSeq(CustomLosses.Select(l => (l ?? throw new ArgumentNullException(nameof(CustomLosses), "A custom loss is null.")).CustomCore
                ?? throw new ArgumentException($"'{l.Name}' is a built-in loss; only custom losses need to be given.", nameof(CustomLosses)))),
            Description is null ? null : FSharpOption<ModelSpec>.Some(Description.ToSpec()),
            ListModule.OfSeq(ModuleNames.Select(kv => Tuple.Create(kv.Key, kv.Value))),
            Output is { } o ? FSharpOption<HeadKind>.Some(o == OutputMode.EveryStep ? HeadKind.PerStep : HeadKind.LastStep) : null,
            Input is { } i ? FSharpOption<InputKind>.Some(i == InputType.OneHot ? InputKind.TokenIds : InputKind.Features) : null,
            Cell is { } c ? FSharpOption<CellKind>.Some(ModelDescription.KindOf(c)) : null,
            Loss is { } loss ? FSharpOption<Loss>.Some(loss.Core) : null);
    }
}
