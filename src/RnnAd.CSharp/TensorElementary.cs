using RnnAd.FSharp;
using static RnnAd.TensorArguments;

namespace RnnAd;

/// <summary>
/// Element-wise functions as instance methods (<c>x.Exp()</c>, <c>x.Pow(2)</c>), each differentiable. Arithmetic
/// needs no method: <c>a + b</c>, <c>a - b</c>, <c>a * b</c> (element-wise), <c>a / b</c> and <c>-a</c> work
/// on tensors and mix with doubles (<c>x * 2.0</c>, <c>1.0 - z</c>), broadcasting as NumPy does: shapes align on
/// the right and each pair of dimensions is equal or 1.
/// </summary>
public static class TensorElementaryExtensions
{
    extension(Tensor x)
    {
        /// <summary>eˣ, element-wise.</summary>
        public Tensor Exp() => Tensor.Exp(NotNull(x));

        /// <summary>ln x, element-wise.</summary>
        public Tensor Log() => Tensor.Log(NotNull(x));

        /// <summary>sin x, element-wise.</summary>
        public Tensor Sin() => Tensor.Sin(NotNull(x));

        /// <summary>cos x, element-wise.</summary>
        public Tensor Cos() => Tensor.Cos(NotNull(x));

        /// <summary>tanh x = (eˣ − e⁻ˣ)/(eˣ + e⁻ˣ), element-wise.</summary>
        public Tensor Tanh() => Tensor.Tanh(NotNull(x));

        /// <summary>√x, element-wise.</summary>
        public Tensor Sqrt() => Tensor.Sqrt(NotNull(x));

        /// <summary>|x|, element-wise; its derivative is sign(x), 0 at 0.</summary>
        public Tensor Abs() => Tensor.Abs(NotNull(x));

        /// <summary>xᵖ, element-wise.</summary>
        public Tensor Pow(double exponent) => Tensor.Pow(NotNull(x), exponent);

        /// <summary>xʸ, element-wise, x and y broadcasting together.</summary>
        public Tensor Pow(Tensor exponent) => Tensor.Pow(NotNull(x), NotNull(exponent));

        /// <summary>ln(1 + x), element-wise, accurate also for tiny x.</summary>
        public Tensor Log1p() => TensorElementary.Log1p(NotNull(x));

        /// <summary>eˣ − 1, element-wise, accurate also for tiny x.</summary>
        public Tensor Expm1() => TensorElementary.Expm1(NotNull(x));

        /// <summary>The error function erf x = (2/√π)∫₀ˣ e^(−t²) dt, element-wise.</summary>
        public Tensor Erf() => TensorElementary.Erf(NotNull(x));

        /// <summary>1/x, element-wise.</summary>
        public Tensor Reciprocal() => TensorElementary.Reciprocal(NotNull(x));

        /// <summary>x², element-wise.</summary>
        public Tensor Square() => TensorElementary.Square(NotNull(x));

        /// <summary>The sign of x (−1, 0 or 1), element-wise: a constant, whose derivative is 0.</summary>
        public Tensor Sign() => TensorElementary.Sign(NotNull(x));
    }
}
