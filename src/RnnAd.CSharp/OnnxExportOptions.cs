namespace RnnAd;

/// <summary>The element type of an exported ONNX graph's inputs, weights and outputs.</summary>
public enum OnnxPrecision
{
    /// <summary>
    /// float32 (<c>tensor(float)</c>), weights rounded to the nearest float32; the recurrent layers are ONNX's own
    /// RNN, LSTM and GRU operators.
    /// </summary>
    Float32,
    /// <summary>
    /// float64 (<c>tensor(double)</c>), weights exactly as the model holds them. ONNX Runtime has no double kernels
    /// for ONNX's RNN, LSTM and GRU operators, so the recurrent layers are <c>Scan</c> loops over the cell's step.
    /// </summary>
    Float64,
}

/// <summary>How <see cref="RecurrentModel.ExportOnnx(string, OnnxExportOptions?)"/> writes a model.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>The element type of the graph (float32 by default).</summary>
    public OnnxPrecision Precision { get; init; } = OnnxPrecision.Float32;

    /// <summary>
    /// Output probabilities (named <c>probabilities</c>) instead of the head's raw outputs (<c>outputs</c>): the
    /// softmax of the class scores of a cross-entropy model, the logistic function of each output of a
    /// binary cross-entropy (multi-label) one, as <see cref="RecurrentModel.PredictProbabilities"/> gives them.
    /// A regression model has none.
    /// </summary>
    public bool Probabilities { get; init; }

    /// <summary>
    /// Add the input <c>lengths</c> (int64, one per sequence): how many steps of each sequence are real, the rest being
    /// padding at the end. Per-sequence outputs, and per-step outputs at real steps, are then those of the model on a
    /// batch padded at the end (<see cref="SequenceBatch.FromTokens(IReadOnlyList{IReadOnlyList{int}})"/> with sequences of several
    /// lengths); outputs at padded steps mean nothing. Without it every step of every sequence is read.
    /// </summary>
    public bool SequenceLengths { get; init; }

    internal RnnAd.FSharp.OnnxOptions ToCore() =>
        new(Precision switch
            {
                OnnxPrecision.Float32 => RnnAd.FSharp.OnnxFloat.Float32,
                OnnxPrecision.Float64 => RnnAd.FSharp.OnnxFloat.Float64,
                _ => throw new ArgumentException($"Unknown precision {Precision}.", nameof(Precision)),
            },
            Probabilities,
            SequenceLengths);
}
