using RnnAd.FSharp;
using RnnAd.FSharp.Storage;
using static RnnAd.TensorArguments;

namespace RnnAd;

/// <summary>
/// Differentiable ops that rearrange values: reshape, permute, transpose, slice, pad, repeat, flip, concatenate,
/// stack, split. A dimension may be given from the end with a negative number (−1 is the last), as in PyTorch.
/// </summary>
public static class TensorShapingExtensions
{
    extension(Tensor)
    {
        /// <summary>
        /// The parts joined along dimension <paramref name="dim"/>; they must agree on every other dimension. The
        /// result's <paramref name="dim"/> is the sum of theirs.
        /// </summary>
        public static Tensor Concat(IEnumerable<Tensor> parts, int dim = 0) => TensorShaping.Concat(Parts(parts), dim);

        /// <summary>Parts of one shape stacked along a new dimension <paramref name="dim"/> (of size the number of parts).</summary>
        public static Tensor Stack(IEnumerable<Tensor> parts, int dim = 0) => TensorShaping.Stack(Parts(parts), dim);
    }

    extension(Tensor x)
    {
        /// <summary>The same values, row-major, under <paramref name="shape"/>; one dimension may be −1, inferred from the others.</summary>
        public Tensor Reshape(params int[] shape) => TensorShaping.Reshape(NotNull(x), NotNull(shape));

        /// <summary>The dimensions reordered: dimension i of the result is dimension <paramref name="permutation"/>[i] of x.</summary>
        public Tensor Permute(params int[] permutation) => TensorShaping.Permute(NotNull(x), NotNull(permutation));

        /// <summary>Dimensions <paramref name="dim0"/> and <paramref name="dim1"/> swapped.</summary>
        public Tensor Transpose(int dim0, int dim1) => TensorShaping.Transpose(NotNull(x), dim0, dim1);

        /// <summary>The transpose (n, m) of a matrix (m, n); any other rank throws <see cref="ArgumentException"/>.</summary>
        public Tensor T =>
            NotNull(x).Rank == 2 ? TensorShaping.Transpose(x, 0, 1)
                : throw new ArgumentException($"T: needs a matrix, got shape {Shape.format(x.Shape)}", nameof(x));

        /// <summary>The <paramref name="length"/> entries from <paramref name="start"/> along <paramref name="dim"/>.</summary>
        public Tensor Slice(int dim, int start, int length) => TensorShaping.Slice(NotNull(x), dim, start, length);

        /// <summary>
        /// x placed at <paramref name="start"/> along <paramref name="dim"/> in zeros whose <paramref name="dim"/> has
        /// <paramref name="size"/> entries: the adjoint of <see cref="Slice"/>.
        /// </summary>
        public Tensor Unslice(int dim, int start, int size) => TensorShaping.Unslice(NotNull(x), dim, start, size);

        /// <summary>The <paramref name="length"/> entries from <paramref name="start"/> along <paramref name="dim"/>, a negative start counting from the end (torch.narrow).</summary>
        public Tensor Narrow(int dim, int start, int length) => TensorShaping.Narrow(NotNull(x), dim, start, length);

        /// <summary>Entry <paramref name="index"/> along <paramref name="dim"/> (negative from the end), with that dimension removed.</summary>
        public Tensor Select(int dim, int index) => TensorShaping.Select(NotNull(x), dim, index);

        /// <summary>A new dimension of size 1 at <paramref name="dim"/> (0 … rank).</summary>
        public Tensor Unsqueeze(int dim) => TensorShaping.Unsqueeze(NotNull(x), dim);

        /// <summary>Dimension <paramref name="dim"/>, which must have size 1, removed.</summary>
        public Tensor Squeeze(int dim) => TensorShaping.Squeeze(NotNull(x), dim);

        /// <summary>
        /// <paramref name="before"/> entries of <paramref name="value"/> ahead of x along <paramref name="dim"/> and
        /// <paramref name="after"/> behind it; the padding gets no gradient.
        /// </summary>
        public Tensor Pad(int dim, int before, int after, double value = 0.0) => TensorShaping.Pad(NotNull(x), dim, before, after, Some(value));

        /// <summary>
        /// x padded with <paramref name="value"/> on every dimension: <paramref name="padding"/>[d] is (before, after)
        /// for dimension d, outermost first (PyTorch's F.pad lists the last dimension first instead).
        /// </summary>
        public Tensor Pad(IReadOnlyList<(int Before, int After)> padding, double value = 0.0) =>
            TensorShaping.Pad(NotNull(x), NotNull(padding).Select(p => Tuple.Create(p.Before, p.After)).ToArray(), Some(value));

        /// <summary>x tiled <paramref name="counts"/>[d] times along each dimension d (torch.Tensor.repeat); extra leading counts add dimensions.</summary>
        public Tensor Repeat(params int[] counts) => TensorShaping.Repeat(NotNull(x), NotNull(counts));

        /// <summary>The order along <paramref name="dim"/> reversed.</summary>
        public Tensor Flip(int dim) => TensorShaping.Flip(NotNull(x), dim);

        /// <summary>Consecutive parts along <paramref name="dim"/> of the given sizes, which must add up to that dimension.</summary>
        public Tensor[] Split(int[] sizes, int dim = 0) => TensorShaping.Split(NotNull(x), NotNull(sizes), dim);

        /// <summary><paramref name="chunks"/> equal parts along <paramref name="dim"/>, which must divide evenly.</summary>
        public Tensor[] Chunk(int chunks, int dim = 0) => TensorShaping.Chunk(NotNull(x), chunks, dim);
    }

    /// <summary>The parts as an array, a null part throwing <see cref="ArgumentNullException"/> naming its position.</summary>
    private static Tensor[] Parts(IEnumerable<Tensor> parts) =>
        ToArray(parts).Select((p, i) => p ?? throw new ArgumentNullException(nameof(parts), $"Part {i} is null.")).ToArray();
}
