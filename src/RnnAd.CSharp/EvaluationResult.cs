using RnnAd.FSharp;

namespace RnnAd;

/// <summary>How well a model does on a set of batches; a figure that does not apply to the model's loss is null.</summary>
/// <param name="Loss">Mean loss per counted position.</param>
/// <param name="Accuracy">Fraction of positions whose most likely class is the target (classifiers; per label for multi-label models).</param>
/// <param name="Perplexity">exp(Loss), the usual language-model figure (cross-entropy).</param>
/// <param name="Count">Positions counted (steps, or sequences for per-sequence models).</param>
/// <param name="Rmse">Root mean squared difference between predicted and target values (regression).</param>
/// <param name="Mae">Mean absolute difference between predicted and target values (regression).</param>
public sealed record EvaluationResult(double Loss, double? Accuracy, double? Perplexity, double Count, double? Rmse = null, double? Mae = null)
{
    /// <summary>Loss / ln 2: the cross-entropy in bits per predicted token, bits per character for a character model.</summary>
    public double? BitsPerCharacter { get; init; }

    /// <summary>
    /// The coefficient of determination 1 − SS_res / SS_tot per output column, averaged over the columns (scikit-learn's <c>r2_score</c>;
    /// a column of constant targets scores 1 when predicted exactly, 0 otherwise) (regression).
    /// </summary>
    public double? R2 { get; init; }

    /// <summary>Precision averaged over the classes that are a target or a prediction, a never-predicted class counting 0 (scikit-learn's macro average).</summary>
    public double? MacroPrecision { get; init; }

    /// <summary>Recall averaged over the same classes, a class that is never a target counting 0.</summary>
    public double? MacroRecall { get; init; }

    /// <summary>F1 averaged over the same classes.</summary>
    public double? MacroF1 { get; init; }

    /// <summary>Figures per class (per label of a multi-label model); null for regression.</summary>
    public IReadOnlyList<ClassResult>? Classes { get; init; }

    /// <summary>
    /// Counts of positions by [target class, predicted class], for classifiers of at most 256 classes (a larger matrix is left out: a
    /// word model's 10,000 classes would need 800 MB); null otherwise.
    /// </summary>
    public long[,]? ConfusionMatrix { get; init; }

    internal static EvaluationResult FromCore(Metrics m, IReadOnlyList<string>? classNames)
    {
        static double? Applies(double v) => double.IsNaN(v) ? null : v;
        return new EvaluationResult(m.Loss, Applies(m.Accuracy), Applies(m.Perplexity), m.Count, Applies(m.Rmse), Applies(m.Mae))
        {
            BitsPerCharacter = Applies(m.BitsPerCharacter),
            R2 = Applies(m.R2),
            MacroPrecision = Applies(m.MacroPrecision),
            MacroRecall = Applies(m.MacroRecall),
            MacroF1 = Applies(m.MacroF1),
            Classes = m.Support.Length == 0
                ? null
                : Enumerable.Range(0, m.Support.Length).Select(c => new ClassResult(
                    c, classNames is { } n && c < n.Count ? n[c] : null, Applies(m.Precision[c]), Applies(m.Recall[c]), Applies(m.F1[c]), m.Support[c])).ToArray(),
            ConfusionMatrix = m.Confusion is { } confusion ? (long[,])confusion.Value.Clone() : null,
        };
    }
}

/// <summary>The figures of one class (or label); a ratio with nothing to count is null.</summary>
/// <param name="Class">The class index (the model's output).</param>
/// <param name="Name">The class's name, when the model carries class names.</param>
/// <param name="Precision">Of the positions predicted as the class, the fraction that are; null when it is never predicted.</param>
/// <param name="Recall">Of the positions of the class, the fraction predicted as it; null when it is never a target.</param>
/// <param name="F1">2·TP / (2·TP + FP + FN); null when the class is neither predicted nor a target.</param>
/// <param name="Support">Positions whose target is the class.</param>
public sealed record ClassResult(int Class, string? Name, double? Precision, double? Recall, double? F1, double Support);
