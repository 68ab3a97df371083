using System.Runtime.CompilerServices;
using Microsoft.FSharp.Core;

namespace RnnAd;

/// <summary>Argument checks and conversions shared by the tensor wrappers, so each wrapper stays one line.</summary>
internal static class TensorArguments
{
    /// <summary>The value itself; null throws <see cref="ArgumentNullException"/> naming the argument, at the facade rather than deep in the core.</summary>
    public static T NotNull<T>(T value, [CallerArgumentExpression(nameof(value))] string? name = null) where T : class =>
        value ?? throw new ArgumentNullException(name);

    /// <summary>An F# optional argument from a C# value (always given: the C# defaults are the core's).</summary>
    public static FSharpOption<T> Some<T>(T value) => FSharpOption<T>.Some(value);

    /// <summary>Position weights handed to a loss as a tensor (one per position, any shape), as the core's float array.</summary>
    public static FSharpOption<double[]>? Weights(Tensor? positionWeights) =>
        positionWeights is null ? null : FSharpOption<double[]>.Some(positionWeights.ToArray());

    /// <summary>A copy of a list as an array, null throwing <see cref="ArgumentNullException"/> naming the argument.</summary>
    public static T[] ToArray<T>(IEnumerable<T> values, [CallerArgumentExpression(nameof(values))] string? name = null) =>
        (values ?? throw new ArgumentNullException(name)).ToArray();
}
