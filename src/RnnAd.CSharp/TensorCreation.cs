using RnnAd.FSharp;
using static RnnAd.TensorArguments;

namespace RnnAd;

/// <summary>
/// Factories of constant tensors: <c>Tensor.Zeros(2, 3)</c>, <c>Tensor.FromArray(values, 2, 3)</c>,
/// <c>Tensor.RandomNormal(seed, [2, 3])</c>. Constants are differentiated only when passed to
/// <see cref="Differentiation"/> or used as a model's parameters. Shapes list dimensions outermost first.
/// </summary>
public static class TensorCreationExtensions
{
    extension(Tensor)
    {
        /// <summary>A tensor of <paramref name="shape"/> filled with 0.</summary>
        public static Tensor Zeros(params int[] shape) => TensorCreation.Zeros(NotNull(shape));

        /// <summary>A tensor of <paramref name="shape"/> filled with 1.</summary>
        public static Tensor Ones(params int[] shape) => TensorCreation.Ones(NotNull(shape));

        /// <summary>A tensor of <paramref name="shape"/> filled with <paramref name="value"/>.</summary>
        public static Tensor Full(int[] shape, double value) => TensorCreation.Full(NotNull(shape), value);

        /// <summary>
        /// A tensor of <paramref name="shape"/> holding <paramref name="values"/> in row-major order (copied); no shape
        /// gives a vector. The number of values must be the product of the dimensions.
        /// </summary>
        public static Tensor FromArray(double[] values, params int[] shape) =>
            NotNull(shape).Length == 0 ? TensorCreation.OfArray(NotNull(values)) : TensorCreation.OfArray(shape, NotNull(values));

        /// <summary>A matrix (rows, columns) from a rectangular array.</summary>
        public static Tensor FromArray(double[,] matrix) =>
            TensorCreation.OfArray(new[] { NotNull(matrix).GetLength(0), matrix.GetLength(1) }, matrix.Cast<double>().ToArray());

        /// <summary>A rank-3 tensor (blocks, rows, columns) from a rectangular array.</summary>
        public static Tensor FromArray(double[,,] blocks) =>
            TensorCreation.OfArray(new[] { NotNull(blocks).GetLength(0), blocks.GetLength(1), blocks.GetLength(2) }, blocks.Cast<double>().ToArray());

        /// <summary>A matrix from rows of equal length.</summary>
        public static Tensor FromArray(double[][] rows) => TensorCreation.OfArray(NotNull(rows));

        /// <summary>A rank-3 tensor from blocks of rows, every block of the same shape.</summary>
        public static Tensor FromArray(double[][][] blocks) => TensorCreation.OfArray(NotNull(blocks));

        /// <summary>The vector start, start + step, … of the values below <paramref name="stop"/> (above it for a negative step).</summary>
        public static Tensor Arange(double start, double stop, double step = 1.0) => TensorCreation.Arange(start, stop, Some(step));

        /// <summary>The n×n identity matrix.</summary>
        public static Tensor Eye(int n) => TensorCreation.Eye(n);

        /// <summary>Samples of N(mean, std²) of <paramref name="shape"/>; the same seed gives the same values.</summary>
        public static Tensor RandomNormal(int seed, int[] shape, double mean = 0.0, double std = 1.0) =>
            TensorCreation.RandomNormal(seed, NotNull(shape), Some(mean), Some(std));

        /// <summary>Samples of U[low, high) of <paramref name="shape"/>; the same seed gives the same values.</summary>
        public static Tensor RandomUniform(int seed, int[] shape, double low = 0.0, double high = 1.0) =>
            TensorCreation.RandomUniform(seed, NotNull(shape), Some(low), Some(high));

        /// <summary>
        /// One-hot rows: shape <paramref name="indexShape"/> + (<paramref name="classes"/>), 1 at each index and 0
        /// elsewhere. The indices are laid out row-major over <paramref name="indexShape"/> (default: a vector of them).
        /// </summary>
        public static Tensor OneHot(int classes, int[] indices, int[]? indexShape = null) =>
            TensorCreation.OneHot(classes, NotNull(indices), Some(indexShape ?? new[] { indices.Length }));
    }
}
