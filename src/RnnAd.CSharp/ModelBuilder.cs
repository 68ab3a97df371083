namespace RnnAd;

/// <summary>
/// A fluent way to describe a model, e.g.
/// <c>new ModelBuilder().Lstm(128).Layers(2).Embedding(vocabularySize, 16).PredictEveryStep(vocabularySize).Build(seed: 1)</c>.
/// </summary>
public sealed class ModelBuilder
{
    private ModelDescription _description = new();

    /// <summary>An Elman RNN with tanh and the given hidden size.</summary>
    public ModelBuilder Rnn(int hiddenSize) => With(d => d with { Cell = CellType.Rnn, HiddenSize = hiddenSize });

    /// <summary>An Elman RNN with relu and the given hidden size.</summary>
    public ModelBuilder RnnRelu(int hiddenSize) => With(d => d with { Cell = CellType.RnnRelu, HiddenSize = hiddenSize });

    /// <summary>An LSTM with the given hidden size.</summary>
    public ModelBuilder Lstm(int hiddenSize) => With(d => d with { Cell = CellType.Lstm, HiddenSize = hiddenSize });

    /// <summary>A GRU with the given hidden size.</summary>
    public ModelBuilder Gru(int hiddenSize) => With(d => d with { Cell = CellType.Gru, HiddenSize = hiddenSize });

    /// <summary>A cell of the user's with the given hidden size.</summary>
    public ModelBuilder Cell(CustomCell cell, int hiddenSize)
    {
        ArgumentNullException.ThrowIfNull(cell);
        return With(d => d with { Cell = CellType.Custom, CustomCell = cell, HiddenSize = hiddenSize });
    }

    /// <summary>Leaves the built-in cell's biases out (PyTorch's <c>bias=False</c>): parameters <c>weight_ih</c> and <c>weight_hh</c> only.</summary>
    public ModelBuilder WithoutCellBias() => With(d => d with { CellBias = false });

    /// <summary>The number of stacked layers.</summary>
    public ModelBuilder Layers(int layers) => With(d => d with { Layers = layers });

    /// <summary>Reads sequences in both directions.</summary>
    public ModelBuilder Bidirectional(bool bidirectional = true) => With(d => d with { Bidirectional = bidirectional });

    /// <summary>Dropout between recurrent layers while training.</summary>
    public ModelBuilder Dropout(double probability) => With(d => d with { Dropout = probability });

    /// <summary>Token ids through a learned embedding table.</summary>
    public ModelBuilder Embedding(int vocabularySize, int embeddingSize) =>
        With(d => d with { Input = InputType.Embedding, InputSize = vocabularySize, EmbeddingSize = embeddingSize });

    /// <summary>Token ids as one-hot vectors.</summary>
    public ModelBuilder OneHot(int vocabularySize) => With(d => d with { Input = InputType.OneHot, InputSize = vocabularySize });

    /// <summary>Real-valued inputs with this many features per step.</summary>
    public ModelBuilder Features(int featureCount) => With(d => d with { Input = InputType.Features, InputSize = featureCount });

    /// <summary>An MLP head with these hidden sizes (relu between layers) before the output layer.</summary>
    public ModelBuilder HeadHiddenSizes(params int[] sizes) => With(d => d with { HeadHiddenSizes = (int[])sizes.Clone() });

    /// <summary>Scores <paramref name="classes"/> classes at every step (a language model: the vocabulary size), with cross-entropy unless a class loss is set.</summary>
    public ModelBuilder PredictEveryStep(int classes) =>
        With(d => d with { Output = OutputMode.EveryStep, Outputs = classes, Loss = d.Loss.ComparesClasses ? d.Loss : LossFunction.CrossEntropy() });

    /// <summary>Scores <paramref name="classes"/> classes once per sequence, from the final states, with cross-entropy unless a class loss is set.</summary>
    public ModelBuilder ClassifyLastStep(int classes) =>
        With(d => d with { Output = OutputMode.LastStep, Outputs = classes, Loss = d.Loss.ComparesClasses ? d.Loss : LossFunction.CrossEntropy() });

    /// <summary>Predicts <paramref name="width"/> real values at every step, with mean squared error unless a value loss is set.</summary>
    public ModelBuilder PredictValuesEveryStep(int width) =>
        With(d => d with { Output = OutputMode.EveryStep, Outputs = width, Loss = d.Loss.ComparesClasses ? LossFunction.MeanSquaredError : d.Loss });

    /// <summary>
    /// Predicts <paramref name="width"/> real values once per sequence, from the final states (a forecast of the next
    /// values: <paramref name="width"/> is the horizon), with mean squared error unless a value loss is set.
    /// </summary>
    public ModelBuilder PredictValuesLastStep(int width) =>
        With(d => d with { Output = OutputMode.LastStep, Outputs = width, Loss = d.Loss.ComparesClasses ? LossFunction.MeanSquaredError : d.Loss });

    /// <summary>How the outputs are scored (cross-entropy, binary cross-entropy for multi-label, MSE, L1, Huber or a custom loss).</summary>
    public ModelBuilder Loss(LossFunction loss)
    {
        ArgumentNullException.ThrowIfNull(loss);
        return With(d => d with { Loss = loss });
    }

    /// <summary>The description built so far.</summary>
    public ModelDescription Description => _description;

    /// <summary>A new model with fresh parameters drawn from <paramref name="seed"/> (PyTorch's default initialisation).</summary>
    public RecurrentModel Build(int seed, Vocabulary? vocabulary = null) => RecurrentModel.Create(_description, seed, vocabulary);

    private ModelBuilder With(Func<ModelDescription, ModelDescription> change)
    {
        _description = change(_description);
        return this;
    }
}
