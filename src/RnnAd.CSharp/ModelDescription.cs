using Microsoft.FSharp.Collections;
using RnnAd.FSharp;

namespace RnnAd;

/// <summary>
/// Describes a sequence model: input encoding → recurrent layers → linear (or MLP) head. Immutable; set the
/// properties with an object initializer or use <see cref="ModelBuilder"/>.
/// </summary>
public sealed record ModelDescription
{
    /// <summary>The recurrent cell.</summary>
    public CellType Cell { get; init; } = CellType.Lstm;

    /// <summary>The cell of a <see cref="CellType.Custom"/> model; null for the built-in cells.</summary>
    public CustomCell? CustomCell { get; init; }

    /// <summary>
    /// Whether a built-in cell has bias vectors (<c>bias_ih</c>, <c>bias_hh</c>); false is PyTorch's <c>bias=False</c>.
    /// A custom cell's parameters say what it has, so this must stay true for one.
    /// </summary>
    public bool CellBias { get; init; } = true;

    /// <summary>How inputs are encoded.</summary>
    public InputType Input { get; init; } = InputType.Embedding;

    /// <summary>The vocabulary size for token inputs, or the number of features per step.</summary>
    public int InputSize { get; init; }

    /// <summary>The embedding width (used only with <see cref="InputType.Embedding"/>).</summary>
    public int EmbeddingSize { get; init; } = 16;

    /// <summary>Hidden units per layer and direction.</summary>
    public int HiddenSize { get; init; } = 64;

    /// <summary>Number of stacked recurrent layers.</summary>
    public int Layers { get; init; } = 1;

    /// <summary>Whether each layer also reads the sequence backwards.</summary>
    public bool Bidirectional { get; init; }

    /// <summary>Dropout probability between recurrent layers during training.</summary>
    public double Dropout { get; init; }

    /// <summary>Whether the model predicts at every step or once per sequence.</summary>
    public OutputMode Output { get; init; } = OutputMode.EveryStep;

    /// <summary>Hidden layer sizes of an MLP head (relu between layers); empty for one linear layer.</summary>
    public IReadOnlyList<int> HeadHiddenSizes { get; init; } = Array.Empty<int>();

    /// <summary>
    /// Width of the head's output: the number of classes it scores (the vocabulary size for a language model), of
    /// labels a multi-label model scores, or of real values it predicts (the horizon of a forecast).
    /// </summary>
    public int Outputs { get; init; }

    /// <summary>How the outputs are scored: cross-entropy over classes by default.</summary>
    public LossFunction Loss { get; init; } = LossFunction.CrossEntropy();

    /// <summary>Value equality includes the head's layer sizes element by element.</summary>
    public bool Equals(ModelDescription? other) =>
        other is not null && Cell == other.Cell && CellBias == other.CellBias && ReferenceEquals(CustomCell, other.CustomCell) && Input == other.Input && InputSize == other.InputSize
        && (Input != InputType.Embedding || EmbeddingSize == other.EmbeddingSize) && HiddenSize == other.HiddenSize
        && Layers == other.Layers && Bidirectional == other.Bidirectional && Dropout.Equals(other.Dropout)
        && Output == other.Output && HeadHiddenSizes.SequenceEqual(other.HeadHiddenSizes) && Outputs == other.Outputs
        && Equals(Loss, other.Loss);

    /// <summary>A hash consistent with <see cref="Equals(ModelDescription?)"/>.</summary>
    public override int GetHashCode() =>
        HashCode.Combine(Cell, Input, InputSize, HiddenSize, Layers, Bidirectional, Output, Outputs);

    /// <summary>Checks every field, throwing an <see cref="ArgumentException"/> that names the one at fault.</summary>
    public void Validate()
    {
        static void Positive(int value, string name)
        {
            if (value <= 0) throw new ArgumentException($"{name} must be positive, got {value}.", name);
        }
        Positive(InputSize, nameof(InputSize));
        if (Input == InputType.Embedding) Positive(EmbeddingSize, nameof(EmbeddingSize));
        Positive(HiddenSize, nameof(HiddenSize));
        Positive(Layers, nameof(Layers));
        Positive(Outputs, nameof(Outputs));
        if (!(Dropout >= 0.0 && Dropout < 1.0))
            throw new ArgumentException($"Dropout must be in [0, 1), got {Dropout}.", nameof(Dropout));
        if (HeadHiddenSizes is null) throw new ArgumentNullException(nameof(HeadHiddenSizes));
        foreach (var h in HeadHiddenSizes) Positive(h, nameof(HeadHiddenSizes));
        if (!Enum.IsDefined(Cell)) throw new ArgumentException($"Cell {(int)Cell} is not a defined cell type.", nameof(Cell));
        if (Cell == CellType.Custom && CustomCell is null)
            throw new ArgumentException("A custom cell model needs its CustomCell.", nameof(CustomCell));
        if (Cell != CellType.Custom && CustomCell is not null)
            throw new ArgumentException($"CustomCell is set but Cell is {Cell}; set Cell to CellType.Custom.", nameof(CustomCell));
        if (Cell == CellType.Custom && !CellBias)
            throw new ArgumentException("CellBias is false but the cell is custom; a custom cell's parameters say whether it has biases.", nameof(CellBias));
        if (!Enum.IsDefined(Input)) throw new ArgumentException($"Input {(int)Input} is not a defined input type.", nameof(Input));
        if (!Enum.IsDefined(Output)) throw new ArgumentException($"Output {(int)Output} is not a defined output mode.", nameof(Output));
        if (Loss is null) throw new ArgumentNullException(nameof(Loss));
    }

    /// <summary>The F# core's model spec.</summary>
    internal ModelSpec ToSpec()
    {
        Validate();
        var cell = Cell == CellType.Custom ? null : KindOf(Cell);
        var input = Input switch
        {
            InputType.OneHot => InputEncoding.NewOneHot(InputSize),
            InputType.Embedding => InputEncoding.NewEmbedding(InputSize, EmbeddingSize),
            _ => InputEncoding.NewFeatures(InputSize),
        };
        var head = Output == OutputMode.EveryStep ? HeadKind.PerStep : HeadKind.LastStep;
        return new ModelSpec(cell is null ? CustomCell!.Core : Cells.ofBuiltIn(new BuiltInCell(cell, CellBias)), input, HiddenSize, Layers, Bidirectional, Dropout, head, ListModule.OfSeq(HeadHiddenSizes), Outputs, Loss.Core);
    }

    /// <summary>The core's name of a built-in cell type.</summary>
    internal static CellKind KindOf(CellType cell) => cell switch
    {
        CellType.Rnn => CellKind.RnnTanh,
        CellType.RnnRelu => CellKind.RnnRelu,
        CellType.Lstm => CellKind.Lstm,
        CellType.Gru => CellKind.Gru,
        _ => throw new ArgumentException($"{cell} is not a built-in cell type.", nameof(cell)),
    };

    /// <summary>The description of an F# core model spec.</summary>
    internal static ModelDescription FromSpec(ModelSpec spec, IEnumerable<CustomCell> customCells, IEnumerable<LossFunction> customLosses)
    {
        var loss = spec.Loss.IsCustom
            ? customLosses.FirstOrDefault(l => Equals(l.Core, spec.Loss))
              ?? throw new ArgumentException($"The model's loss '{spec.Loss.Name}' is not among the custom losses given.", nameof(customLosses))
            : LossFunction.FromCore(spec.Loss);
        var builtIn = Cells.tryBuiltIn(spec.Cell)?.Value;
        var kind = builtIn?.Kind;
        var custom = kind is null
            ? customCells.FirstOrDefault(c => ReferenceEquals(c.Core, spec.Cell))
              ?? throw new ArgumentException($"The model's cell '{spec.Cell.Name}' is not among the custom cells given.", nameof(customCells))
            : null;
        var (input, inputSize, embedding) = spec.Input switch
        {
            InputEncoding.OneHot o => (InputType.OneHot, o.vocabulary, 16),
            InputEncoding.Embedding e => (InputType.Embedding, e.vocabulary, e.dim),
            InputEncoding.Features f => (InputType.Features, f.size, 16),
            _ => throw new ArgumentException("unknown input encoding", nameof(spec)),
        };
        return new ModelDescription
        {
            Cell = kind is null ? CellType.Custom : kind.IsRnnTanh ? CellType.Rnn : kind.IsRnnRelu ? CellType.RnnRelu : kind.IsLstm ? CellType.Lstm : CellType.Gru,
            CustomCell = custom,
            CellBias = builtIn?.Bias ?? true,
            Input = input,
            InputSize = inputSize,
            EmbeddingSize = embedding,
            HiddenSize = spec.HiddenSize,
            Layers = spec.Layers,
            Bidirectional = spec.Bidirectional,
            Dropout = spec.Dropout,
            Output = spec.Head.IsPerStep ? OutputMode.EveryStep : OutputMode.LastStep,
            HeadHiddenSizes = spec.HeadHidden.ToArray(),
            Outputs = spec.Outputs,
            Loss = loss,
        };
    }
}
