using Microsoft.FSharp.Core;
using RnnAd.FSharp;
using static RnnAd.TensorArguments;

namespace RnnAd;

/// <summary>A function's value and its gradient (a tensor, or a dictionary of tensors for named parameters).</summary>
/// <param name="Value">f(x).</param>
/// <param name="Gradient">∇f(x), of x's shape (or named and shaped as the parameters).</param>
public sealed record ValueAndGradient<TGradient>(Tensor Value, TGradient Gradient);

/// <summary>A function's value and its directional derivative J·v (forward mode).</summary>
/// <param name="Value">f(x).</param>
/// <param name="Tangent">J·v, of f(x)'s shape.</param>
public sealed record ValueAndTangent(Tensor Value, Tensor Tangent);

/// <summary>A function's value and its pullback u ↦ Jᵀu (reverse mode), reusable for several cotangents u.</summary>
/// <param name="Value">f(x).</param>
/// <param name="Pullback">u (of f(x)'s shape) ↦ Jᵀu (of x's shape, or named and shaped as the parameters).</param>
public sealed record ValueAndPullback<TCotangent>(Tensor Value, Func<Tensor, TCotangent> Pullback);

/// <summary>
/// Differentiation as functions of functions, over one tensor or over named tensors (a dictionary name → tensor):
/// reverse mode (<see cref="Grad(Func{Tensor, Tensor}, Tensor)"/>, <c>ValueAndGrad</c>, <c>Vjp</c>), forward mode
/// (<c>Jvp</c>), Hessian-vector products by forward over reverse (<c>Hvp</c>) and Jacobians. Calls nest (the gradient
/// of a gradient is exact) and run safely from several threads. The functions must be pure: a tensor traced inside
/// must not escape the call.
/// </summary>
public static class Differentiation
{
    /// <summary>∇f(x) for f returning one value; the gradient has x's shape.</summary>
    public static Tensor Grad(Func<Tensor, Tensor> f, Tensor x) => Ad.grad(Function(f), NotNull(x));

    /// <summary>f(x) and ∇f(x), for f returning one value, from one reverse sweep.</summary>
    public static ValueAndGradient<Tensor> ValueAndGrad(Func<Tensor, Tensor> f, Tensor x)
    {
        var (value, gradient) = Ad.valueAndGrad(Function(f), NotNull(x)).ToValueTuple();
        return new(value, gradient);
    }

    /// <summary>f(x) and the pullback u ↦ Jᵀu (vector-Jacobian product), for f of any output shape.</summary>
    public static ValueAndPullback<Tensor> Vjp(Func<Tensor, Tensor> f, Tensor x)
    {
        var (value, pullback) = Ad.vjp(Function(f), NotNull(x)).ToValueTuple();
        return new(value, u => pullback.Invoke(NotNull(u)));
    }

    /// <summary>f(x) and J·v (Jacobian-vector product, forward mode), <paramref name="v"/> of x's shape.</summary>
    public static ValueAndTangent Jvp(Func<Tensor, Tensor> f, Tensor x, Tensor v)
    {
        var (value, tangent) = Ad.jvp(Function(f), NotNull(x), NotNull(v)).ToValueTuple();
        return new(value, tangent);
    }

    /// <summary>H·v, the Hessian of f (returning one value) at x times <paramref name="v"/>, by forward over reverse.</summary>
    public static Tensor Hvp(Func<Tensor, Tensor> f, Tensor x, Tensor v) => Ad.hvp(Function(f), NotNull(x), NotNull(v));

    /// <summary>The Jacobian of f at x, of shape f(x).Shape + x.Shape (one reverse sweep per output element).</summary>
    public static Tensor Jacobian(Func<Tensor, Tensor> f, Tensor x) => Ad.jacobian(Function(f), NotNull(x));

    /// <summary>x's value as a constant: no derivative flows through it (PyTorch's detach).</summary>
    public static Tensor StopGradient(Tensor x) => Ad.stopGradient(NotNull(x));

    /// <summary>
    /// f(inputs) without keeping f's trace (gradient checkpointing): under reverse mode the sweep runs f again to get
    /// its gradients, trading a second forward pass for memory. f must be pure and read every differentiated value
    /// through <paramref name="inputs"/>.
    /// </summary>
    public static Tensor Checkpoint(Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(f);
        return Ad.checkpoint(FuncConvert.FromFunc<Tensor[], Tensor>(xs => f(xs) ?? throw Returned()), NotNull(inputs));
    }

    /// <summary>The gradient of f (returning one value) at named parameters, under the same names and shapes.</summary>
    public static IReadOnlyDictionary<string, Tensor> Grad(Func<IReadOnlyDictionary<string, Tensor>, Tensor> f, IReadOnlyDictionary<string, Tensor> parameters) =>
        View(Ad.Named.grad(Function(f), Named(parameters)));

    /// <summary>f(parameters) and its gradient, for f returning one value.</summary>
    public static ValueAndGradient<IReadOnlyDictionary<string, Tensor>> ValueAndGrad(Func<IReadOnlyDictionary<string, Tensor>, Tensor> f, IReadOnlyDictionary<string, Tensor> parameters)
    {
        var (value, gradient) = Ad.Named.valueAndGrad(Function(f), Named(parameters)).ToValueTuple();
        return new(value, View(gradient));
    }

    /// <summary>f(parameters) and the pullback u ↦ Jᵀu, under the parameters' names and shapes.</summary>
    public static ValueAndPullback<IReadOnlyDictionary<string, Tensor>> Vjp(Func<IReadOnlyDictionary<string, Tensor>, Tensor> f, IReadOnlyDictionary<string, Tensor> parameters)
    {
        var (value, pullback) = Ad.Named.vjp(Function(f), Named(parameters)).ToValueTuple();
        return new(value, u => View(pullback.Invoke(NotNull(u))));
    }

    /// <summary>f(parameters) and J·v, with one direction per parameter (same names and shapes) in <paramref name="directions"/>.</summary>
    public static ValueAndTangent Jvp(Func<IReadOnlyDictionary<string, Tensor>, Tensor> f, IReadOnlyDictionary<string, Tensor> parameters, IReadOnlyDictionary<string, Tensor> directions)
    {
        var named = Named(parameters);
        var (value, tangent) = Ad.Named.jvp(Function(f), named, Aligned(named, directions)).ToValueTuple();
        return new(value, tangent);
    }

    /// <summary>H·v for f returning one value: the Hessian at the parameters times the direction (same names and shapes).</summary>
    public static IReadOnlyDictionary<string, Tensor> Hvp(Func<IReadOnlyDictionary<string, Tensor>, Tensor> f, IReadOnlyDictionary<string, Tensor> parameters, IReadOnlyDictionary<string, Tensor> directions)
    {
        var named = Named(parameters);
        return View(Ad.Named.hvp(Function(f), named, Aligned(named, directions)));
    }

    private static FSharpFunc<Tensor, Tensor> Function(Func<Tensor, Tensor> f)
    {
        ArgumentNullException.ThrowIfNull(f);
        return FuncConvert.FromFunc<Tensor, Tensor>(x => f(x) ?? throw Returned());
    }

    private static FSharpFunc<NamedTensors, Tensor> Function(Func<IReadOnlyDictionary<string, Tensor>, Tensor> f)
    {
        ArgumentNullException.ThrowIfNull(f);
        return FuncConvert.FromFunc<NamedTensors, Tensor>(ps => f(View(ps)) ?? throw Returned());
    }

    private static InvalidOperationException Returned() => new("The function being differentiated returned null.");

    /// <summary>Named tensors in the dictionary's order; a null tensor throws naming its key.</summary>
    private static NamedTensors Named(IReadOnlyDictionary<string, Tensor> parameters) =>
        new(NotNull(parameters).Select(p => Tuple.Create(p.Key, p.Value ?? throw new ArgumentNullException(nameof(parameters), $"The tensor '{p.Key}' is null."))).ToArray());

    /// <summary>The directions in the parameters' order, whatever the dictionary's; a missing or extra name throws.</summary>
    private static NamedTensors Aligned(NamedTensors parameters, IReadOnlyDictionary<string, Tensor> directions)
    {
        ArgumentNullException.ThrowIfNull(directions);
        if (directions.Count != parameters.Count || !parameters.Names.All(directions.ContainsKey))
            throw new ArgumentException($"The directions are named {string.Join(", ", directions.Keys)}; the parameters {string.Join(", ", parameters.Names)}.", nameof(directions));
        return Named(parameters.Names.ToDictionary(n => n, n => directions[n]));
    }

    /// <summary>Named tensors as a read-only dictionary that enumerates in their order.</summary>
    private static IReadOnlyDictionary<string, Tensor> View(NamedTensors tensors) =>
        new System.Collections.ObjectModel.ReadOnlyDictionary<string, Tensor>(new OrderedDictionary<string, Tensor>(tensors));
}
