using Microsoft.FSharp.Core;
using RnnAd.FSharp;

namespace RnnAd;

/// <summary>
/// Computes a custom loss that compares a model's outputs with real-valued targets: the outputs and targets
/// (same shape: (batch, time, width) per step, (batch, width) per sequence) and the weight of every position
/// ((batch, time) or (batch); 1 for a real step, 0 for padding; null when every position counts) give the mean
/// loss, one value.
/// </summary>
public delegate Tensor ValueLoss(Tensor outputs, Tensor targets, Tensor? positionWeights);

/// <summary>
/// Computes a custom loss that compares a model's class scores with class indices: the scores ((batch, time,
/// classes) or (batch, classes)), one class per position in row-major order, and the position weights as for
/// <see cref="ValueLoss"/> give the mean loss, one value.
/// </summary>
public delegate Tensor ClassLoss(Tensor scores, int[] classes, Tensor? positionWeights);

/// <summary>
/// How a model's outputs are scored. Every built-in loss is the mean over the positions that count (padding
/// excluded) and PyTorch's definition; custom losses are written as tensor functions.
/// </summary>
public sealed class LossFunction : IEquatable<LossFunction>
{
    private LossFunction(Loss core) => Core = core;

    internal Loss Core { get; }

    /// <summary>The loss's name, as checkpoints store it (<c>cross_entropy</c>, <c>mse</c>, …, or a custom loss's own).</summary>
    public string Name => Core.Name;

    /// <summary>Whether the loss compares class scores with class indices (else real values with real targets).</summary>
    public bool ComparesClasses => Core.Targets.IsClasses;

    /// <summary>Whether the outputs are independent yes/no scores, one per label (binary cross-entropy).</summary>
    public bool IsMultiLabel => Core.IsBinaryCrossEntropy;

    internal CustomLoss? CustomCore => Core is Loss.Custom c ? c.Item : null;

    /// <summary>−log softmax(scores)[target], optionally weighted by class (PyTorch's <c>CrossEntropyLoss</c>).</summary>
    public static LossFunction CrossEntropy(IReadOnlyList<double>? classWeights = null)
    {
        if (classWeights is null) return new(LossModule.crossEntropy);
        var core = Loss.NewCrossEntropy(FSharpOption<double[]>.Some(classWeights.ToArray()));
        LossModule.validate(core);
        return new(core);
    }

    /// <summary>Binary cross-entropy of logits, one independent label per output (multi-label; PyTorch's <c>BCEWithLogitsLoss</c>).</summary>
    public static LossFunction BinaryCrossEntropy { get; } = new(Loss.BinaryCrossEntropy);

    /// <summary>Mean squared error (PyTorch's <c>MSELoss</c>).</summary>
    public static LossFunction MeanSquaredError { get; } = new(Loss.MeanSquaredError);

    /// <summary>Mean absolute error (PyTorch's <c>L1Loss</c>).</summary>
    public static LossFunction MeanAbsoluteError { get; } = new(Loss.MeanAbsoluteError);

    /// <summary>Huber loss with threshold <paramref name="delta"/> (PyTorch's <c>HuberLoss</c>): squared below it, linear above.</summary>
    public static LossFunction Huber(double delta = 1.0)
    {
        var core = Loss.NewHuber(delta);
        LossModule.validate(core);
        return new(core);
    }

    /// <summary>A loss of the user's over real-valued targets; checkpoints store its name, so loading needs it again.</summary>
    public static LossFunction Custom(string name, ValueLoss loss)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(loss);
        return FromCustom(name, TargetKind.Values, (outputs, targets, weights) =>
            loss(outputs, TargetsModule.valuesOf(targets), weights));
    }

    /// <summary>A loss of the user's over class indices; checkpoints store its name, so loading needs it again.</summary>
    public static LossFunction Custom(string name, ClassLoss loss)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(loss);
        return FromCustom(name, TargetKind.Classes, (outputs, targets, weights) =>
            loss(outputs, TargetsModule.classesOf(targets), weights));
    }

    private static LossFunction FromCustom(string name, TargetKind kind, Func<Tensor, Targets, Tensor?, Tensor> compute)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("A custom loss needs a name (checkpoints store it).", nameof(name));
        if (LossModule.tryBuiltIn(name) is not null) throw new ArgumentException($"'{name}' names a built-in loss; give a custom loss its own name.", nameof(name));
        var custom = new CustomLoss(name, kind, FuncConvert.FromFunc<Tensor, Targets, FSharpOption<double[]>, Tensor>((outputs, targets, weights) =>
        {
            var w = weights is null ? null : Tensor.Constant(FSharp.Storage.RawTensorModule.ofArray(PositionShape(outputs), weights.Value));
            return compute(outputs, targets, w) ?? throw new InvalidOperationException($"The custom loss '{name}' returned null.");
        }));
        return new(Loss.NewCustom(custom));
    }

    /// <summary>The positions of outputs (…, width): every dimension but the last.</summary>
    private static int[] PositionShape(Tensor outputs) => outputs.Shape[..^1];

    internal static LossFunction FromCore(Loss core) => new(core);

    /// <summary>Built-in losses are equal when their kind and settings are; custom ones only to themselves.</summary>
    public bool Equals(LossFunction? other) => other is not null && Core.Equals(other.Core);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as LossFunction);

    /// <inheritdoc/>
    public override int GetHashCode() => Name.GetHashCode(StringComparison.Ordinal);

    /// <inheritdoc/>
    public override string ToString() => Name;
}
