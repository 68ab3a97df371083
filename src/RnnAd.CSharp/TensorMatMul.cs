using RnnAd.FSharp;
using static RnnAd.TensorArguments;

namespace RnnAd;

/// <summary>
/// The differentiable matrix product with torch.matmul's shapes: (m, k)·(k, n) → (m, n); batches of matrices whose
/// leading dimensions broadcast together ((2, 3, 4, 5)·(5, 6) → (2, 3, 4, 6)); a vector is a one-row (left) or
/// one-column (right) matrix whose dimension is dropped again, so vector·vector is the dot product.
/// </summary>
public static class TensorMatMulExtensions
{
    extension(Tensor)
    {
        /// <summary>
        /// op(a)·op(b), where op transposes the last two dimensions of a matrix operand when its flag is set:
        /// <c>Tensor.MatMul(x, w, transposeB: true)</c> is x·Wᵀ without copying a transpose.
        /// </summary>
        public static Tensor MatMul(Tensor a, Tensor b, bool transposeA = false, bool transposeB = false) =>
            TensorMatMul.MatMul(NotNull(a), NotNull(b), Some(transposeA), Some(transposeB));
    }

    extension(Tensor x)
    {
        /// <summary>x·<paramref name="other"/>, the matrix product (see <c>Tensor.MatMul</c> for the shapes).</summary>
        public Tensor MatMul(Tensor other) => TensorMatMul.MatMul(NotNull(x), NotNull(other));
    }
}
