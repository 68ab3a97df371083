using RnnAd.FSharp;
using static RnnAd.TensorArguments;

namespace RnnAd;

/// <summary>
/// Differentiable reductions and statistics, over all elements (a scalar) or along one dimension
/// <c>dim</c> (negative from the end), which is removed unless <c>keepDim</c> keeps it with size 1.
/// </summary>
public static class TensorReductionExtensions
{
    extension(Tensor x)
    {
        /// <summary>Σ of all elements, a scalar.</summary>
        public Tensor Sum() => TensorReductions.Sum(NotNull(x));

        /// <summary>Σ along <paramref name="dim"/>.</summary>
        public Tensor Sum(int dim, bool keepDim = false) => TensorReductions.Sum(NotNull(x), dim, Some(keepDim));

        /// <summary>The mean of all elements, a scalar.</summary>
        public Tensor Mean() => TensorReductions.Mean(NotNull(x));

        /// <summary>The mean along <paramref name="dim"/>.</summary>
        public Tensor Mean(int dim, bool keepDim = false) => TensorReductions.Mean(NotNull(x), dim, Some(keepDim));

        /// <summary>The largest element, a scalar; the gradient goes to its first occurrence.</summary>
        public Tensor Max() => TensorReductions.Max(NotNull(x));

        /// <summary>The largest value along <paramref name="dim"/> (NaN counts as largest); the gradient goes to the first maximum of each slice.</summary>
        public Tensor Max(int dim, bool keepDim = false) => TensorReductions.Max(NotNull(x), dim, Some(keepDim));

        /// <summary>The smallest element, a scalar; the gradient goes to its first occurrence.</summary>
        public Tensor Min() => TensorReductions.Min(NotNull(x));

        /// <summary>The smallest value along <paramref name="dim"/> (NaN counts as smallest); the gradient goes to the first minimum of each slice.</summary>
        public Tensor Min(int dim, bool keepDim = false) => TensorReductions.Min(NotNull(x), dim, Some(keepDim));

        /// <summary>Π of all elements, a scalar (1 for an empty tensor).</summary>
        public Tensor Prod() => TensorReductions.Prod(NotNull(x));

        /// <summary>Π along <paramref name="dim"/>; exact gradients also where entries are 0.</summary>
        public Tensor Prod(int dim, bool keepDim = false) => TensorReductions.Prod(NotNull(x), dim, Some(keepDim));

        /// <summary>Running sums along <paramref name="dim"/> (torch.cumsum): yᵢ = Σ_{j≤i} xⱼ, same shape as x.</summary>
        public Tensor CumSum(int dim) => TensorReductions.CumSum(NotNull(x), dim);

        /// <summary>log Σ exp(x) along <paramref name="dim"/>, computed without overflow.</summary>
        public Tensor LogSumExp(int dim, bool keepDim = false) => TensorReductions.LogSumExp(NotNull(x), dim, Some(keepDim));

        /// <summary>The row-major flat index of the first largest element (not differentiable).</summary>
        public int ArgMax() => TensorReductions.ArgMax(NotNull(x));

        /// <summary>The index of the first largest value along <paramref name="dim"/> for every position of the other dimensions, row-major.</summary>
        public int[] ArgMax(int dim) => TensorReductions.ArgMax(NotNull(x), dim);

        /// <summary>The row-major flat index of the first smallest element (not differentiable).</summary>
        public int ArgMin() => TensorReductions.ArgMin(NotNull(x));

        /// <summary>The index of the first smallest value along <paramref name="dim"/> for every position of the other dimensions, row-major.</summary>
        public int[] ArgMin(int dim) => TensorReductions.ArgMin(NotNull(x), dim);

        /// <summary>The p-norm of all elements, (Σ|x|ᵖ)^(1/p), a scalar, for finite p ≥ 1 (2 by default); its gradient at 0 is 0.</summary>
        public Tensor Norm(double p = 2.0) => TensorStatistics.Norm(NotNull(x), Some(p));

        /// <summary>The p-norm along <paramref name="dim"/>, (Σ|x|ᵖ)^(1/p), for finite p ≥ 1.</summary>
        public Tensor Norm(double p, int dim, bool keepDim = false) => TensorStatistics.Norm(NotNull(x), p, dim, Some(keepDim));

        /// <summary>The variance of all elements, Σ(x − mean)²/(n − 1), or /n when not <paramref name="unbiased"/>; a scalar.</summary>
        public Tensor Var(bool unbiased = true) => TensorStatistics.Var(NotNull(x), Some(unbiased));

        /// <summary>The variance along <paramref name="dim"/>, Σ(x − mean)²/(n − 1), or /n when not <paramref name="unbiased"/>.</summary>
        public Tensor Var(int dim, bool keepDim = false, bool unbiased = true) => TensorStatistics.Var(NotNull(x), dim, Some(keepDim), Some(unbiased));

        /// <summary>The standard deviation of all elements, √Var; a scalar.</summary>
        public Tensor Std(bool unbiased = true) => TensorStatistics.Std(NotNull(x), Some(unbiased));

        /// <summary>The standard deviation along <paramref name="dim"/>, √Var; its gradient where all entries are equal is 0.</summary>
        public Tensor Std(int dim, bool keepDim = false, bool unbiased = true) => TensorStatistics.Std(NotNull(x), dim, Some(keepDim), Some(unbiased));
    }
}
