using RnnAd.FSharp;
using RnnAd.FSharp.Reference;
using Microsoft.FSharp.Core;
using CoreOptions = RnnAd.FSharp.Reference.GradCheckOptions;
using CoreReport = RnnAd.FSharp.Reference.GradientReport;

namespace RnnAd;

/// <summary>
/// Tolerances and options of a gradient check. An entry passes when
/// |a − b| / max(|a|, |b|, Floor) ≤ RelativeTolerance: a purely relative test above the floor, an absolute one
/// (RelativeTolerance × Floor) below it.
/// </summary>
public sealed record GradientCheckOptions
{
    /// <summary>Truncated BPTT window k (the state is detached every k steps on both sides); null for full BPTT.</summary>
    public int? BpttWindow { get; init; }

    /// <summary>Also compare AD and BPTT with centred finite differences (two loss evaluations per parameter entry).</summary>
    public bool IncludeFiniteDifferences { get; init; }

    /// <summary>AD vs BPTT relative tolerance (docs/ARCHITECTURE.md §7.2: 1e-10; they compute the same algebra in another order).</summary>
    public double RelativeTolerance { get; init; } = 1e-10;

    /// <summary>
    /// AD vs BPTT floor. Entries made tiny by cancellation (a saturated softmax's p − 1) carry rounding noise of
    /// ~1e-17 that is large relative to themselves; the default 1e-5 checks them to 1e-15 absolute instead.
    /// Set 1e-300 for docs/ARCHITECTURE.md §7.2's purely relative test.
    /// </summary>
    public double Floor { get; init; } = 1e-5;

    /// <summary>Relative tolerance against finite differences (their truncation and rounding errors are ~1e-8).</summary>
    public double FiniteDifferenceRelativeTolerance { get; init; } = 1e-6;

    /// <summary>Floor against finite differences: 1e-2, i.e. 1e-8 absolute below it.</summary>
    public double FiniteDifferenceFloor { get; init; } = 1e-2;

    internal CoreOptions ToCore()
    {
        if (BpttWindow is <= 0) throw new ArgumentException($"BpttWindow must be positive, got {BpttWindow}.", nameof(BpttWindow));
        static void Positive(double v, string name)
        {
            if (!(v > 0)) throw new ArgumentException($"{name} must be positive, got {v}.", name);
        }
        Positive(RelativeTolerance, nameof(RelativeTolerance));
        Positive(Floor, nameof(Floor));
        Positive(FiniteDifferenceRelativeTolerance, nameof(FiniteDifferenceRelativeTolerance));
        Positive(FiniteDifferenceFloor, nameof(FiniteDifferenceFloor));
        return new CoreOptions(
            BpttWindow is { } k ? FSharpOption<int>.Some(k) : null,
            IncludeFiniteDifferences,
            new GradientTolerance(RelativeTolerance, Floor),
            new GradientTolerance(FiniteDifferenceRelativeTolerance, FiniteDifferenceFloor));
    }
}

/// <summary>One parameter's line of a comparison: the largest errors, where they occur, and the verdict.</summary>
/// <param name="Parameter">The parameter's name.</param>
/// <param name="Shape">The parameter's shape.</param>
/// <param name="MaxAbsoluteError">The largest |a − b|.</param>
/// <param name="MaxAbsoluteIndex">Where it occurs (one coordinate per dimension).</param>
/// <param name="MaxRelativeError">The largest |a − b| / max(|a|, |b|, floor).</param>
/// <param name="MaxRelativeIndex">Where it occurs.</param>
/// <param name="Passed">Whether every entry is within tolerance.</param>
public sealed record GradientCheckRow(
    string Parameter, IReadOnlyList<int> Shape, double MaxAbsoluteError, IReadOnlyList<int> MaxAbsoluteIndex,
    double MaxRelativeError, IReadOnlyList<int> MaxRelativeIndex, bool Passed);

/// <summary>Two gradients compared parameter by parameter.</summary>
public sealed class GradientComparison
{
    private readonly CoreReport _report;

    internal GradientComparison(CoreReport report)
    {
        _report = report;
        Rows = report.Rows.Select(r => new GradientCheckRow(r.Name, r.Shape, r.MaxAbsoluteError, r.MaxAbsoluteIndex, r.MaxRelativeError, r.MaxRelativeIndex, r.Passed)).ToArray();
    }

    /// <summary>What was compared, e.g. "AD vs BPTT".</summary>
    public string Title => $"{_report.LeftLabel} vs {_report.RightLabel}";

    /// <summary>One row per parameter.</summary>
    public IReadOnlyList<GradientCheckRow> Rows { get; }

    /// <summary>Whether every parameter passed.</summary>
    public bool Passed => _report.Passed;

    /// <summary>The largest relative error over all parameters.</summary>
    public double MaxRelativeError => _report.MaxRelativeError;

    /// <summary>The rows that failed.</summary>
    public IReadOnlyList<GradientCheckRow> FailedRows => Rows.Where(r => !r.Passed).ToArray();

    /// <summary>An aligned text table of the rows.</summary>
    public string ToTable() => _report.ToTable();

    /// <inheritdoc cref="ToTable"/>
    public override string ToString() => ToTable();
}

/// <summary>‖∂L/∂h_t‖ over time for one layer and direction, from AD and from the hand-derived BPTT.</summary>
/// <param name="Name">h_l0, h_l0_reverse, …</param>
/// <param name="Layer">The layer, 0 at the bottom.</param>
/// <param name="Direction">0 forward, 1 backward.</param>
/// <param name="AdNorms">Norms from AD, indexed by time step.</param>
/// <param name="BpttNorms">Norms from BPTT, indexed by time step.</param>
public sealed record GradientFlowSeries(string Name, int Layer, int Direction, IReadOnlyList<double> AdNorms, IReadOnlyList<double> BpttNorms);

/// <summary>
/// Everything a gradient check found: losses, comparisons, and the gradient flow over time. Models of the built-in
/// cells and losses are checked against the hand-derived BPTT (and finite differences when asked); models of
/// custom cells or losses, which it does not cover, against finite differences, and the BPTT figures are null.
/// </summary>
public sealed class GradientCheckReport
{
    private readonly string _text;

    internal GradientCheckReport(GradientCheckResult result)
    {
        _text = result.ToText();
        Loss = result.Ad.Loss;
        BpttLoss = result.Bptt.Loss;
        LossRelativeError = result.LossRelativeError;
        AdVsBptt = new GradientComparison(result.Parameters);
        HiddenAdVsBptt = new GradientComparison(result.Hidden);
        FiniteDifferences = result.FiniteDifferences.Select(r => new GradientComparison(r)).ToArray();
        GradientFlow = result.AdFlow.Zip(result.BpttFlow, (a, b) => new GradientFlowSeries(a.Name, a.Layer, a.Direction, a.Norms, b.Norms)).ToArray();
        AdGradients = new Gradients(result.Ad.Parameters);
        BpttGradients = new Gradients(result.Bptt.Parameters);
        Passed = result.Passed;
        Reference = "the hand-derived BPTT";
    }

    internal GradientCheckReport(SequenceGradients ad, GradientReport againstFiniteDifferences, string why)
    {
        var comparison = new GradientComparison(againstFiniteDifferences);
        var flow = GradientFlowModule.ofHidden(ad.Hidden);
        Loss = ad.Loss;
        FiniteDifferences = new[] { comparison };
        GradientFlow = flow.Select(f => new GradientFlowSeries(f.Name, f.Layer, f.Direction, f.Norms, Array.Empty<double>())).ToArray();
        AdGradients = new Gradients(ad.Parameters);
        Passed = againstFiniteDifferences.Passed;
        Reference = "finite differences (" + why + ")";
        _text = $"loss: AD {ad.Loss:R}\nreference: {Reference}\n{comparison.ToTable()}\ngradient flow ||dL/dh_t|| (AD):\n{GradientFlowModule.format(flow)}"
                + (Passed ? "gradient check PASSED" : "gradient check FAILED");
    }

    /// <summary>What AD was compared with: the hand-derived BPTT, or finite differences and why.</summary>
    public string Reference { get; }

    /// <summary>The loss by AD.</summary>
    public double Loss { get; }

    /// <summary>The loss by the hand-derived BPTT; null when it does not cover the model.</summary>
    public double? BpttLoss { get; }

    /// <summary>Relative difference of the two losses; null without the hand-derived BPTT.</summary>
    public double? LossRelativeError { get; }

    /// <summary>AD vs BPTT over the parameters; null without the hand-derived BPTT.</summary>
    public GradientComparison? AdVsBptt { get; }

    /// <summary>AD vs BPTT over ∂L/∂h_t of every layer and direction; null without the hand-derived BPTT.</summary>
    public GradientComparison? HiddenAdVsBptt { get; }

    /// <summary>AD vs finite differences, then BPTT vs finite differences when both ran (empty unless asked for or needed).</summary>
    public IReadOnlyList<GradientComparison> FiniteDifferences { get; }

    /// <summary>‖∂L/∂h_t‖ for every layer and direction (the BPTT norms are empty without the hand-derived BPTT).</summary>
    public IReadOnlyList<GradientFlowSeries> GradientFlow { get; }

    /// <summary>The AD gradient.</summary>
    public Gradients AdGradients { get; }

    /// <summary>The hand-derived BPTT gradient; null when it does not cover the model.</summary>
    public Gradients? BpttGradients { get; }

    /// <summary>Whether the losses agree and every comparison passed.</summary>
    public bool Passed { get; }

    /// <summary>All tables and the gradient flow as text.</summary>
    public override string ToString() => _text;
}

/// <summary>
/// Gradient checking for researchers: reverse-mode AD against an independent hand-derived BPTT (written without
/// the AD engine) and against finite differences.
/// </summary>
public static class GradientCheck
{
    /// <summary>
    /// Runs AD, the hand-derived BPTT and, if asked, finite differences on a model and a batch (dropout off) and
    /// compares them. A model of a custom cell or loss, which the hand-derived BPTT does not cover, is compared with
    /// finite differences instead (the report's <see cref="GradientCheckReport.Reference"/> says so).
    /// </summary>
    public static GradientCheckReport Compare(RecurrentModel model, SequenceBatch batch, GradientCheckOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batch);
        var core = (options ?? new()).ToCore();
        if (Bptt.unsupported(model.Spec) is { } why)
        {
            var (ad, report) = OptionNames.Translate(() => FSharp.Reference.GradCheck.withoutReference(model.Spec, model.Parameters, core, batch.Inner), CoreNames).ToValueTuple();
            return new GradientCheckReport(ad, report, why.Value);
        }
        return new GradientCheckReport(OptionNames.Translate(() => FSharp.Reference.GradCheck.run(model.Spec, model.Parameters, core, batch.Inner), CoreNames));
    }

    /// <summary>The core's names of the gradient check's options, and the <see cref="GradientCheckOptions"/> properties that set them.</summary>
    private static readonly IReadOnlyDictionary<string, string> CoreNames = new Dictionary<string, string>
    {
        ["DetachEvery"] = nameof(GradientCheckOptions.BpttWindow),
        ["FiniteDifferences"] = nameof(GradientCheckOptions.IncludeFiniteDifferences),
    };

    /// <summary>The gradient of the model's mean loss on a batch by reverse-mode AD (truncated every <paramref name="bpttWindow"/> steps if given).</summary>
    public static Gradients ComputeAd(RecurrentModel model, SequenceBatch batch, int? bpttWindow = null) =>
        new(AdGradients.run(Checked(model), model.Parameters, Options(bpttWindow), Checked(batch)).Parameters);

    /// <summary>The same gradient by the hand-derived BPTT.</summary>
    public static Gradients ComputeBptt(RecurrentModel model, SequenceBatch batch, int? bpttWindow = null) =>
        new(Bptt.run(Checked(model), model.Parameters, Options(bpttWindow), Checked(batch)).Parameters);

    /// <summary>The gradient of the full (untruncated) loss by centred finite differences.</summary>
    public static Gradients ComputeFiniteDifferences(RecurrentModel model, SequenceBatch batch) =>
        new(FSharp.Reference.FiniteDifferences.ofModel(Checked(model), model.Parameters, RunOptions.Default, Checked(batch)));

    /// <summary>Compares two gradients of the same model parameter by parameter.</summary>
    public static GradientComparison Compare(Gradients left, Gradients right, double relativeTolerance, double floor, string leftLabel = "left", string rightLabel = "right")
    {
        ArgumentNullException.ThrowIfNull(left);
        ArgumentNullException.ThrowIfNull(right);
        return new GradientComparison(GradientReportModule.compare(leftLabel, rightLabel, new GradientTolerance(relativeTolerance, floor), left.Inner, right.Inner));
    }

    private static RunOptions Options(int? bpttWindow)
    {
        if (bpttWindow is <= 0) throw new ArgumentException($"The BPTT window must be positive, got {bpttWindow}.", nameof(bpttWindow));
        return new RunOptions(null, null, bpttWindow is { } k ? FSharpOption<int>.Some(k) : null, null, null);
    }

    private static ModelSpec Checked(RecurrentModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Spec;
    }

    private static FSharp.Minibatch Checked(SequenceBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return batch.Inner;
    }
}
