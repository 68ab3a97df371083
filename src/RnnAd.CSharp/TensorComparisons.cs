using RnnAd.FSharp;
using static RnnAd.TensorArguments;

namespace RnnAd;

/// <summary>
/// Element-wise maximum and minimum (differentiable) and comparisons, which give constant masks of 0 and 1 (not
/// differentiable) that <see cref="TensorIndexingExtensions"/>' <c>Tensor.Where</c> and <c>MaskedFill</c> take.
/// Operands broadcast together.
/// </summary>
public static class TensorComparisonExtensions
{
    extension(Tensor)
    {
        /// <summary>max(a, b), element-wise; on ties each operand gets half the derivative (torch.maximum).</summary>
        public static Tensor Maximum(Tensor a, Tensor b) => TensorComparisons.Maximum(NotNull(a), NotNull(b));

        /// <summary>min(a, b), element-wise; on ties each operand gets half the derivative (torch.minimum).</summary>
        public static Tensor Minimum(Tensor a, Tensor b) => TensorComparisons.Minimum(NotNull(a), NotNull(b));
    }

    extension(Tensor x)
    {
        /// <summary>1 where x &gt; y, else 0.</summary>
        public Tensor Greater(Tensor y) => TensorComparisons.Greater(NotNull(x), NotNull(y));

        /// <summary>1 where x &gt; y, else 0.</summary>
        public Tensor Greater(double y) => TensorComparisons.Greater(NotNull(x), y);

        /// <summary>1 where x ≥ y, else 0.</summary>
        public Tensor GreaterEqual(Tensor y) => TensorComparisons.GreaterEqual(NotNull(x), NotNull(y));

        /// <summary>1 where x ≥ y, else 0.</summary>
        public Tensor GreaterEqual(double y) => TensorComparisons.GreaterEqual(NotNull(x), y);

        /// <summary>1 where x &lt; y, else 0.</summary>
        public Tensor Less(Tensor y) => TensorComparisons.Less(NotNull(x), NotNull(y));

        /// <summary>1 where x &lt; y, else 0.</summary>
        public Tensor Less(double y) => TensorComparisons.Less(NotNull(x), y);

        /// <summary>1 where x ≤ y, else 0.</summary>
        public Tensor LessEqual(Tensor y) => TensorComparisons.LessEqual(NotNull(x), NotNull(y));

        /// <summary>1 where x ≤ y, else 0.</summary>
        public Tensor LessEqual(double y) => TensorComparisons.LessEqual(NotNull(x), y);

        /// <summary>1 where x = y, else 0.</summary>
        public Tensor Equal(Tensor y) => TensorComparisons.Equal(NotNull(x), NotNull(y));

        /// <summary>1 where x = y, else 0.</summary>
        public Tensor Equal(double y) => TensorComparisons.Equal(NotNull(x), y);

        /// <summary>1 where x ≠ y (or either is NaN), else 0.</summary>
        public Tensor NotEqual(Tensor y) => TensorComparisons.NotEqual(NotNull(x), NotNull(y));

        /// <summary>1 where x ≠ y (or either is NaN), else 0.</summary>
        public Tensor NotEqual(double y) => TensorComparisons.NotEqual(NotNull(x), y);
    }
}
