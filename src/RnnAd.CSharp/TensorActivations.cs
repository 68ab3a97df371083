using RnnAd.FSharp;
using static RnnAd.TensorArguments;

namespace RnnAd;

/// <summary>
/// Activation functions, element-wise and differentiable, with PyTorch's definitions and its derivative at each kink.
/// </summary>
public static class TensorActivationExtensions
{
    extension(Tensor x)
    {
        /// <summary>σ(x) = 1/(1 + e⁻ˣ), element-wise.</summary>
        public Tensor Sigmoid() => TensorActivations.Sigmoid(NotNull(x));

        /// <summary>max(x, 0), element-wise; derivative 0 at 0.</summary>
        public Tensor Relu() => TensorActivations.Relu(NotNull(x));

        /// <summary>x clamped into [low, high], element-wise; derivative 1 inside (ends included), 0 outside.</summary>
        public Tensor Clamp(double low, double high) => TensorActivations.Clamp(NotNull(x), low, high);

        /// <summary>x for x &gt; 0, slope·x otherwise, element-wise (PyTorch's default slope 0.01).</summary>
        public Tensor LeakyRelu(double slope = 0.01) => TensorActivations.LeakyRelu(NotNull(x), slope);

        /// <summary>x for x &gt; 0, α·(eˣ − 1) otherwise, element-wise (PyTorch's default α = 1).</summary>
        public Tensor Elu(double alpha = 1.0) => TensorActivations.Elu(NotNull(x), alpha);

        /// <summary>ln(1 + eˣ), element-wise, and x itself above 20 (PyTorch's softplus).</summary>
        public Tensor Softplus() => TensorActivations.Softplus(NotNull(x));

        /// <summary>SiLU (swish) x·σ(x), element-wise.</summary>
        public Tensor Silu() => TensorActivations.Silu(NotNull(x));

        /// <summary>GELU x·Φ(x), Φ the standard normal distribution function, element-wise (exact form).</summary>
        public Tensor Gelu() => TensorActivations.Gelu(NotNull(x));
    }
}
