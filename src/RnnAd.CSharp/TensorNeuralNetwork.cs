using RnnAd.FSharp;
using static RnnAd.TensorArguments;

namespace RnnAd;

/// <summary>How a loss over many positions becomes one number.</summary>
public enum LossReduction
{
    /// <summary>The (weighted) mean over the positions that count.</summary>
    Mean,
    /// <summary>The (weighted) sum over the positions.</summary>
    Sum,
}

/// <summary>
/// Neural-network functions and losses over tensors, with PyTorch's conventions: a linear layer's weight is
/// (out, in) and it computes x·Wᵀ + b; class scores are the last dimension. A position is one entry of the
/// leading dimensions (every dimension but the last); position weights, when given, hold one weight per position
/// in row-major order (any shape with that many entries, as a custom loss receives them: 1 for a real step, 0 for
/// padding), and a position of weight 0 contributes nothing, to the value or the gradient.
/// </summary>
public static class TensorNeuralNetworkExtensions
{
    extension(Tensor x)
    {
        /// <summary>x·Wᵀ + b for x (…, in), <paramref name="weight"/> W (out, in) and <paramref name="bias"/> b (out), or x·Wᵀ without a bias: shape (…, out).</summary>
        public Tensor Linear(Tensor weight, Tensor? bias = null) =>
            bias is null ? Nn.linearNoBias(NotNull(weight), NotNull(x)) : Nn.linear(NotNull(weight), bias, NotNull(x));

        /// <summary>softmax along <paramref name="dim"/>: e^(xᵢ) / Σⱼ e^(xⱼ), computed without overflow.</summary>
        public Tensor Softmax(int dim = -1) => Nn.softmax(dim, NotNull(x));

        /// <summary>log softmax along <paramref name="dim"/>: xᵢ − log Σⱼ e^(xⱼ), accurate for large scores.</summary>
        public Tensor LogSoftmax(int dim = -1) => Nn.logSoftmax(dim, NotNull(x));

        /// <summary>
        /// Inverted dropout: each entry zeroed with probability <paramref name="p"/> in [0, 1) and the others scaled by
        /// 1/(1 − p); the same seed drops the same entries.
        /// </summary>
        public Tensor Dropout(int seed, double p) => Nn.dropout(seed, p, NotNull(x));

        /// <summary>
        /// Rows of an embedding table x (vocabulary, dim) for token <paramref name="ids"/> laid out row-major over
        /// <paramref name="indexShape"/> (default: a vector of them): shape <paramref name="indexShape"/> + (dim).
        /// </summary>
        public Tensor Embedding(int[] ids, int[]? indexShape = null) => Nn.embedding(NotNull(x), indexShape ?? new[] { NotNull(ids).Length }, NotNull(ids));

        /// <summary>
        /// Cross-entropy of class scores x (…, C) against one class index per position: the mean (or sum) of
        /// −log softmax(x_p)[target_p], weighted by position and, if given, by the target's class weight (PyTorch's
        /// weighted mean divides by the sum of the weights). Class weights need the mean.
        /// </summary>
        public Tensor CrossEntropy(IReadOnlyList<int> targets, Tensor? positionWeights = null, IReadOnlyList<double>? classWeights = null, LossReduction reduction = LossReduction.Mean) =>
            reduction switch
            {
                LossReduction.Mean => Losses.crossEntropy(classWeights is null ? null : Some(classWeights.ToArray()), Weights(positionWeights), ToArray(targets), NotNull(x)),
                LossReduction.Sum when classWeights is null => Nn.crossEntropyWeighted(Reduction.Sum, Weights(positionWeights), ToArray(targets), NotNull(x)),
                LossReduction.Sum => throw new ArgumentException("Class weights need the mean reduction (PyTorch's weighted mean).", nameof(classWeights)),
                _ => throw new ArgumentException($"Reduction {(int)reduction} is not a defined reduction.", nameof(reduction)),
            };

        /// <summary>
        /// Binary cross-entropy of logits z = x against targets y in [0, 1] of the same shape, each entry its own label:
        /// the mean of max(z, 0) − z·y + log(1 + e^(−|z|)), which is −y·log σ(z) − (1 − y)·log(1 − σ(z)) without overflow.
        /// </summary>
        public Tensor BinaryCrossEntropyWithLogits(Tensor targets, Tensor? positionWeights = null) =>
            Losses.binaryCrossEntropyWithLogits(Weights(positionWeights), NotNull(targets), NotNull(x));

        /// <summary>Mean squared error of outputs x against <paramref name="targets"/> of the same shape: mean of (x − t)².</summary>
        public Tensor MeanSquaredError(Tensor targets, Tensor? positionWeights = null) =>
            Losses.meanSquaredError(Weights(positionWeights), NotNull(targets), NotNull(x));

        /// <summary>Mean absolute error of outputs x against <paramref name="targets"/> of the same shape: mean of |x − t|.</summary>
        public Tensor MeanAbsoluteError(Tensor targets, Tensor? positionWeights = null) =>
            Losses.meanAbsoluteError(Weights(positionWeights), NotNull(targets), NotNull(x));

        /// <summary>
        /// Huber loss of outputs x against <paramref name="targets"/> of the same shape: with d = x − t, the mean of d²/2
        /// where |d| &lt; δ and δ·(|d| − δ/2) elsewhere (PyTorch's HuberLoss).
        /// </summary>
        public Tensor Huber(Tensor targets, double delta = 1.0, Tensor? positionWeights = null) =>
            Losses.huber(delta, Weights(positionWeights), NotNull(targets), NotNull(x));
    }
}
