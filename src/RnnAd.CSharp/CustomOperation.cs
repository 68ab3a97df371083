using Microsoft.FSharp.Core;
using RnnAd.FSharp;
using RnnAd.FSharp.Storage;

namespace RnnAd;

/// <summary>
/// A differentiable op of the user's: its value and its two derivative rules, differentiated like the library's own
/// ops (reverse and forward mode, and nested, as long as the rules are written with tensor ops). Example, softsign
/// f(x) = x/(1 + |x|) with f′(x) = 1/(1 + |x|)²:
/// <code>
/// var softsign = CustomOperation.Define("softsign",
///     value: xs => xs[0] / (1.0 + xs[0].Abs()),
///     forward: (xs, f, dxs) => dxs[0] / (1.0 + xs[0].Abs()).Square(),
///     reverse: (xs, f, g) => new[] { g / (1.0 + xs[0].Abs()).Square() });
/// var y = softsign.Apply(x);
/// </code>
/// </summary>
public sealed class CustomOperation
{
    private readonly FSharpFunc<Tensor[], Tensor> _apply;

    private CustomOperation(string name, FSharpFunc<Tensor[], Tensor> apply)
    {
        Name = name;
        _apply = apply;
    }

    /// <summary>The op's name, which its error messages carry.</summary>
    public string Name { get; }

    /// <summary>
    /// Defines an op. <paramref name="value"/> computes the output from the inputs (constants: only its value is kept);
    /// <paramref name="forward"/> (inputs, output, input tangents, zeros for inputs not being differentiated) gives the
    /// output's tangent J·dx, of the output's shape; <paramref name="reverse"/> (inputs, output, output adjoint g) gives
    /// Jᵀg, one adjoint per input, of its shape. A rule returning a wrong shape or count throws
    /// <see cref="ArgumentException"/> naming the op.
    /// </summary>
    public static CustomOperation Define(
        string name,
        Func<Tensor[], Tensor> value,
        Func<Tensor[], Tensor, Tensor[], Tensor> forward,
        Func<Tensor[], Tensor, Tensor, Tensor[]> reverse)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(forward);
        ArgumentNullException.ThrowIfNull(reverse);
        // The core checks what the rules return (null, shapes, counts) and names the op in its errors.
        var apply = CustomOp.Define(
            name,
            FuncConvert.FromFunc<RawTensor[], RawTensor>(raws => value(raws.Select(Tensor.Constant).ToArray())?.Value!),
            FuncConvert.FromFunc(forward),
            FuncConvert.FromFunc(reverse));
        return new(name, apply);
    }

    /// <summary>The op applied to its inputs.</summary>
    public Tensor Apply(params Tensor[] inputs) => _apply.Invoke(TensorArguments.NotNull(inputs));

    /// <inheritdoc/>
    public override string ToString() => $"custom op {Name}";
}
