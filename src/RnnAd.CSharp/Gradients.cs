using RnnAd.FSharp;
using RnnAd.FSharp.Storage;

namespace RnnAd;

/// <summary>
/// A gradient for every parameter of a model, under the parameters' names and shapes (row-major values).
/// Immutable; <see cref="With"/> returns a changed copy (e.g. to test a checker with a wrong gradient).
/// </summary>
public sealed class Gradients
{
    internal Gradients(NamedTensors inner) => Inner = inner;

    internal NamedTensors Inner { get; }

    /// <summary>Parameter names, in the model's order.</summary>
    public IReadOnlyList<string> Names => Inner.Names;

    /// <summary>The shape of one parameter's gradient.</summary>
    public int[] GetShape(string name) => (int[])Find(name).Shape.Clone();

    /// <summary>A copy of one parameter's gradient, row-major.</summary>
    public double[] GetValues(string name) => Find(name).ToArray();

    /// <summary>A copy with one parameter's gradient replaced by values of the same size.</summary>
    public Gradients With(string name, IReadOnlyList<double> values) => new(Inner.Replace(name, values, "gradient"));

    private Tensor Find(string name) => Inner.Find(name, "gradient");
}
