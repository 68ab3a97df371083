using Microsoft.FSharp.Core;
using RnnAd.FSharp;

namespace RnnAd;

/// <summary>How a parameter's values are drawn when a model is created.</summary>
public sealed class ParameterInit
{
    private ParameterInit(Initializer core) => Core = core;

    internal Initializer Core { get; }

    /// <summary>PyTorch's default for recurrent weights: uniform in (−1/√hidden, 1/√hidden).</summary>
    public static ParameterInit Recurrent { get; } = new(Initializer.Recurrent);

    /// <summary>Every entry 0 (a bias that starts at zero).</summary>
    public static ParameterInit Zeros { get; } = new(Initializer.NewConstant(0.0));

    /// <summary>Every entry the same value.</summary>
    public static ParameterInit Constant(double value) =>
        double.IsFinite(value) ? new(Initializer.NewConstant(value)) : throw new ArgumentException($"The value must be finite, got {value}.", nameof(value));

    /// <summary>Uniform in [low, high).</summary>
    public static ParameterInit Uniform(double low, double high) =>
        double.IsFinite(low) && double.IsFinite(high) && low <= high
            ? new(Initializer.NewUniform(low, high))
            : throw new ArgumentException($"The bounds must be finite with low <= high, got [{low}, {high}).", nameof(low));

    /// <summary>Normal with this mean and standard deviation.</summary>
    public static ParameterInit Normal(double mean, double std) =>
        double.IsFinite(mean) && double.IsFinite(std) && std >= 0
            ? new(Initializer.NewNormal(mean, std))
            : throw new ArgumentException($"The mean must be finite and the standard deviation finite and non-negative, got {mean} and {std}.", nameof(std));
}

/// <summary>
/// One parameter of a custom cell: its name within one layer and direction (the model adds <c>_l0</c>,
/// <c>_l1_reverse</c>, … as PyTorch does), its shape for given input and hidden sizes, and how it is drawn.
/// </summary>
/// <param name="Name">The name, e.g. <c>weight_ih</c>.</param>
/// <param name="Shape">(input size, hidden size) → shape.</param>
/// <param name="Init">How the values are drawn; null for <see cref="ParameterInit.Recurrent"/>.</param>
public sealed record CustomCellParameter(string Name, Func<int, int, int[]> Shape, ParameterInit? Init = null);

/// <summary>The parameters one step of a custom cell reads, by their names.</summary>
public sealed class CellParameters
{
    private readonly NamedTensors _inner;

    internal CellParameters(NamedTensors inner) => _inner = inner;

    /// <summary>The parameter of this name; a missing name throws, listing those present.</summary>
    public Tensor this[string name] => _inner.Find(name, "cell parameter");

    /// <summary>The names, in the cell's order.</summary>
    public IReadOnlyList<string> Names => _inner.Names;
}

/// <summary>
/// One step of a custom cell: the state slots (each (batch, hidden); h, the output, is slot 0) and an input
/// (batch, input size) give the next state slots. It must be a pure function of its arguments.
/// </summary>
public delegate Tensor[] CellStep(CellParameters parameters, IReadOnlyList<Tensor> state, Tensor input);

/// <summary>
/// A recurrent cell written by its user: its parameters, how many state slots it carries and its step. A model
/// built with it trains, saves, loads, predicts and checks its gradients as models of the built-in cells do:
/// the step is folded over time, with layers, both directions, padding and truncation handled by RnnAd.
/// </summary>
public sealed class CustomCell
{
    /// <summary>A cell from its parts; the name is what checkpoints store, so loading needs the same cell.</summary>
    public CustomCell(string name, IReadOnlyList<CustomCellParameter> parameters, int stateSlots, CellStep step)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(step);
        if (CellKind.TryParse(name) is not null)
            throw new ArgumentException($"'{name}' names a built-in cell; give a custom cell its own name.", nameof(name));
        var core = parameters.Select((p, i) =>
        {
            if (p is null) throw new ArgumentNullException(nameof(parameters), $"Parameter {i} is null.");
            if (p.Shape is null) throw new ArgumentNullException(nameof(parameters), $"Parameter '{p.Name}' has no shape function.");
            return CellModule.parameterWith((p.Init ?? ParameterInit.Recurrent).Core, p.Name, FuncConvert.FromFunc(p.Shape));
        });
        Name = name;
        Parameters = parameters.ToArray();
        StateSlots = stateSlots;
        var bound = FuncConvert.FromFunc<NamedTensors, FSharpFunc<CellState, FSharpFunc<Tensor, CellState>>>(p =>
        {
            var view = new CellParameters(p);
            return FuncConvert.FromFunc<CellState, Tensor, CellState>((s, x) =>
                new CellState(step(view, s.Slots, x) ?? throw new InvalidOperationException($"The step of cell '{name}' returned null.")));
        });
        // The core checks the name, the parameters and the slot count, naming the argument at fault as this constructor does.
        Core = CellModule.create(name, Microsoft.FSharp.Collections.ListModule.OfSeq(core), stateSlots, bound);
    }

    /// <summary>The cell's name.</summary>
    public string Name { get; }

    /// <summary>The cell's parameters, in order.</summary>
    public IReadOnlyList<CustomCellParameter> Parameters { get; }

    /// <summary>How many (batch, hidden) tensors the state holds; h is slot 0.</summary>
    public int StateSlots { get; }

    internal Cell Core { get; }

    /// <inheritdoc/>
    public override string ToString() => $"cell {Name} ({StateSlots} state slot{(StateSlots == 1 ? "" : "s")}, parameters {string.Join(", ", Parameters.Select(p => p.Name))})";
}
