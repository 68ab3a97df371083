using Microsoft.FSharp.Core;
using RnnAd.FSharp;
using RnnAd.FSharp.Storage;

namespace RnnAd;

/// <summary>Lookup and replacement of one named tensor, shared by models and gradients.</summary>
internal static class NamedTensorsExtensions
{
    /// <summary>The tensor of <paramref name="name"/>; a missing name throws, listing those present.</summary>
    public static Tensor Find(this NamedTensors tensors, string name, string what)
    {
        ArgumentNullException.ThrowIfNull(name);
        var found = tensors.TryFind(name);
        return found is null
            ? throw new ArgumentException($"There is no {what} named '{name}'; present: {string.Join(", ", tensors.Names)}.", nameof(name))
            : found.Value;
    }

    /// <summary>A copy with one tensor replaced by row-major values of the same shape.</summary>
    public static NamedTensors Replace(this NamedTensors tensors, string name, IReadOnlyList<double> values, string what)
    {
        ArgumentNullException.ThrowIfNull(values);
        var shape = tensors.Find(name, what).Shape;
        if (values.Count != Shape.numel(shape))
            throw new ArgumentException($"The {what} '{name}' has shape {Shape.format(shape)} ({Shape.numel(shape)} values), {values.Count} were given.", nameof(values));
        var replaced = Tensor.Constant(RawTensorModule.ofArray(shape, values.ToArray()));
        return NamedTensorsModule.map(FuncConvert.FromFunc<string, Tensor, Tensor>((n, t) => n == name ? replaced : t), tensors);
    }
}
