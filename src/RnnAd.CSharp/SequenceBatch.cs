using RnnAd.FSharp;
using RnnAd.FSharp.Storage;
using CoreBatch = RnnAd.FSharp.Minibatch;

namespace RnnAd;

/// <summary>
/// A batch of sequences with their targets, ready for a model. Sequences may differ in length: shorter ones
/// are padded at the end and masked, so padding changes neither the loss nor the final state.
/// </summary>
public sealed class SequenceBatch
{
    private SequenceBatch(CoreBatch inner) => Inner = inner;

    internal CoreBatch Inner { get; }

    /// <summary>Number of sequences.</summary>
    public int Count => Inner.Batch;

    /// <summary>Length of the longest sequence (the padded length).</summary>
    public int Length => Inner.Time;

    /// <summary>Token sequences with one target token per step (many-to-many, e.g. next-token prediction).</summary>
    public static SequenceBatch FromTokens(IReadOnlyList<IReadOnlyList<int>> inputs, IReadOnlyList<IReadOnlyList<int>> targets)
    {
        var (ids, mask, time) = Pad(inputs, nameof(inputs));
        ArgumentNullException.ThrowIfNull(targets);
        return new SequenceBatch(new CoreBatch(SequenceInput.NewTokens(ids), inputs.Count, time, mask, Targets.NewClasses(StepTargets(inputs, targets, time))));
    }

    /// <summary>Token sequences with one label per sequence (many-to-one, e.g. sentiment classification).</summary>
    public static SequenceBatch ForClassification(IReadOnlyList<IReadOnlyList<int>> inputs, IReadOnlyList<int> labels)
    {
        var (ids, mask, time) = Pad(inputs, nameof(inputs));
        return new SequenceBatch(new CoreBatch(SequenceInput.NewTokens(ids), inputs.Count, time, mask, Targets.NewClasses(Labels(inputs.Count, labels))));
    }

    /// <summary>Feature sequences (sequence → step → features) with one target per step.</summary>
    public static SequenceBatch FromFeatures(IReadOnlyList<double[][]> inputs, IReadOnlyList<IReadOnlyList<int>> targets)
    {
        var (values, mask, time) = PadFeatures(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        return new SequenceBatch(new CoreBatch(values, inputs.Count, time, mask, Targets.NewClasses(StepTargets(inputs.Select(s => s.Length).ToArray(), targets, time))));
    }

    /// <summary>Feature sequences (sequence → step → features) with one label per sequence.</summary>
    public static SequenceBatch FromFeatures(IReadOnlyList<double[][]> inputs, IReadOnlyList<int> labels)
    {
        var (values, mask, time) = PadFeatures(inputs);
        return new SequenceBatch(new CoreBatch(values, inputs.Count, time, mask, Targets.NewClasses(Labels(inputs.Count, labels))));
    }

    /// <summary>Token sequences without targets, for prediction.</summary>
    public static SequenceBatch FromTokens(IReadOnlyList<IReadOnlyList<int>> inputs)
    {
        var (ids, mask, time) = Pad(inputs, nameof(inputs));
        return new SequenceBatch(new CoreBatch(SequenceInput.NewTokens(ids), inputs.Count, time, mask, Targets.None));
    }

    /// <summary>Token sequences with a vector of real targets per sequence (e.g. 0/1 labels of a multi-label classifier).</summary>
    public static SequenceBatch FromTokens(IReadOnlyList<IReadOnlyList<int>> inputs, IReadOnlyList<double[]> targets)
    {
        var (ids, mask, time) = Pad(inputs, nameof(inputs));
        return new SequenceBatch(new CoreBatch(SequenceInput.NewTokens(ids), inputs.Count, time, mask, SequenceValues(inputs.Count, targets)));
    }

    /// <summary>Feature sequences (sequence → step → features) without targets, for prediction.</summary>
    public static SequenceBatch FromFeatures(IReadOnlyList<double[][]> inputs)
    {
        var (values, mask, time) = PadFeatures(inputs);
        return new SequenceBatch(new CoreBatch(values, inputs.Count, time, mask, Targets.None));
    }

    /// <summary>Feature sequences with a vector of real targets per sequence (e.g. the next values of a forecast).</summary>
    public static SequenceBatch FromFeatures(IReadOnlyList<double[][]> inputs, IReadOnlyList<double[]> targets)
    {
        var (values, mask, time) = PadFeatures(inputs);
        return new SequenceBatch(new CoreBatch(values, inputs.Count, time, mask, SequenceValues(inputs.Count, targets)));
    }

    /// <summary>Feature sequences with a vector of real targets at every step (sequence → step → values).</summary>
    public static SequenceBatch FromFeatures(IReadOnlyList<double[][]> inputs, IReadOnlyList<double[][]> targets)
    {
        var (values, mask, time) = PadFeatures(inputs);
        ArgumentNullException.ThrowIfNull(targets);
        var lengths = inputs.Select(s => s.Length).ToArray();
        if (targets.Count != lengths.Length)
            throw new ArgumentException($"{targets.Count} target sequences for {lengths.Length} input sequences.", nameof(targets));
        var width = Width(targets.SelectMany(t => t ?? Array.Empty<double[]>()), nameof(targets));
        var flat = new double[lengths.Length * time * width];
        for (var i = 0; i < lengths.Length; i++)
        {
            var row = targets[i] ?? throw new ArgumentNullException(nameof(targets), $"Target sequence {i} is null.");
            if (row.Length != lengths[i])
                throw new ArgumentException($"Target sequence {i} has {row.Length} steps, its input has {lengths[i]}.", nameof(targets));
            for (var t = 0; t < row.Length; t++)
                CopyTargets(row[t], width, flat, (i * time + t) * width, $"step {t} of sequence {i}");
        }
        return new SequenceBatch(new CoreBatch(values, inputs.Count, time, mask, Targets.NewValues(Tensor.Constant(RawTensorModule.ofArray(new[] { inputs.Count, time, width }, flat)))));
    }

    internal static SequenceBatch Wrap(CoreBatch inner) => new(inner);

    /// <summary>The same inputs without targets (prediction reads none).</summary>
    internal SequenceBatch WithoutTargets() =>
        Inner.Targets.IsNone ? this : new SequenceBatch(new CoreBatch(Inner.Input, Inner.Batch, Inner.Time, Inner.Mask, Targets.None));

    private static Targets SequenceValues(int count, IReadOnlyList<double[]> targets)
    {
        ArgumentNullException.ThrowIfNull(targets);
        if (targets.Count != count) throw new ArgumentException($"{targets.Count} target vectors for {count} sequences.", nameof(targets));
        var width = Width(targets, nameof(targets));
        var flat = new double[count * width];
        for (var i = 0; i < count; i++) CopyTargets(targets[i], width, flat, i * width, $"sequence {i}");
        return Targets.NewValues(Tensor.Constant(RawTensorModule.ofArray(new[] { count, width }, flat)));
    }

    /// <summary>The common length of the target vectors (the first one's), which must be positive.</summary>
    private static int Width(IEnumerable<double[]> vectors, string name)
    {
        var first = vectors.FirstOrDefault() ?? throw new ArgumentException("The targets hold no vector.", name);
        return first.Length > 0 ? first.Length : throw new ArgumentException("Target vectors must hold at least one value.", name);
    }

    private static void CopyTargets(double[]? vector, int width, double[] into, int offset, string where)
    {
        if (vector is null) throw new ArgumentNullException("targets", $"The targets of {where} are null.");
        if (vector.Length != width)
            throw new ArgumentException($"The targets of {where} hold {vector.Length} values; the first target vector holds {width}.", "targets");
        for (var j = 0; j < width; j++)
            if (!double.IsFinite(vector[j])) throw new ArgumentException($"Target {j} of {where} is {vector[j]}; targets must be finite.", "targets");
        Array.Copy(vector, 0, into, offset, width);
    }

    private static (int[] Ids, Microsoft.FSharp.Core.FSharpOption<double[]>? Mask, int Time) Pad(IReadOnlyList<IReadOnlyList<int>> inputs, string name)
    {
        ArgumentNullException.ThrowIfNull(inputs, name);
        var lengths = new int[inputs.Count];
        for (var i = 0; i < inputs.Count; i++)
        {
            if (inputs[i] is null) throw new ArgumentNullException(name, $"Sequence {i} is null.");
            lengths[i] = inputs[i].Count;
        }
        var time = CheckLengths(lengths, name);
        var ids = new int[inputs.Count * time];
        for (var i = 0; i < inputs.Count; i++)
            for (var t = 0; t < lengths[i]; t++)
                ids[i * time + t] = inputs[i][t];
        return (ids, MaskFor(lengths, time), time);
    }

    private static (SequenceInput Values, Microsoft.FSharp.Core.FSharpOption<double[]>? Mask, int Time) PadFeatures(IReadOnlyList<double[][]> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var lengths = inputs.Select((s, i) => s?.Length ?? throw new ArgumentNullException(nameof(inputs), $"Sequence {i} is null.")).ToArray();
        var time = CheckLengths(lengths, nameof(inputs));
        var features = inputs[0].Length > 0 ? inputs[0][0]?.Length ?? 0 : 0;
        var values = new double[inputs.Count * time * features];
        for (var i = 0; i < inputs.Count; i++)
            for (var t = 0; t < lengths[i]; t++)
            {
                var step = inputs[i][t] ?? throw new ArgumentNullException(nameof(inputs), $"Step {t} of sequence {i} is null.");
                if (step.Length != features)
                    throw new ArgumentException($"Step {t} of sequence {i} has {step.Length} features; step 0 of sequence 0 has {features}.", nameof(inputs));
                for (var f = 0; f < features; f++)
                    if (!double.IsFinite(step[f]))
                        throw new ArgumentException($"Feature {f} of step {t} of sequence {i} is {step[f]}; features must be finite.", nameof(inputs));
                Array.Copy(step, 0, values, (i * time + t) * features, features);
            }
        var tensor = Tensor.Constant(RawTensorModule.ofArray(new[] { inputs.Count, time, features }, values));
        return (SequenceInput.NewFeatures(tensor), MaskFor(lengths, time), time);
    }

    private static int CheckLengths(int[] lengths, string name)
    {
        if (lengths.Length == 0) throw new ArgumentException("A batch needs at least one sequence.", name);
        for (var i = 0; i < lengths.Length; i++)
            if (lengths[i] == 0) throw new ArgumentException($"Sequence {i} is empty; every sequence needs at least one step.", name);
        return lengths.Max();
    }

    private static Microsoft.FSharp.Core.FSharpOption<double[]>? MaskFor(int[] lengths, int time)
    {
        if (lengths.All(l => l == time)) return null;
        var mask = new double[lengths.Length * time];
        for (var i = 0; i < lengths.Length; i++)
            for (var t = 0; t < lengths[i]; t++)
                mask[i * time + t] = 1.0;
        return Microsoft.FSharp.Core.FSharpOption<double[]>.Some(mask);
    }

    private static int[] StepTargets(IReadOnlyList<IReadOnlyList<int>> inputs, IReadOnlyList<IReadOnlyList<int>> targets, int time) =>
        StepTargets(inputs.Select(s => s.Count).ToArray(), targets, time);

    private static int[] StepTargets(int[] lengths, IReadOnlyList<IReadOnlyList<int>> targets, int time)
    {
        if (targets.Count != lengths.Length)
            throw new ArgumentException($"{targets.Count} target sequences for {lengths.Length} input sequences.", nameof(targets));
        var flat = new int[lengths.Length * time];
        for (var i = 0; i < lengths.Length; i++)
        {
            var row = targets[i] ?? throw new ArgumentNullException(nameof(targets), $"Target sequence {i} is null.");
            if (row.Count != lengths[i])
                throw new ArgumentException($"Target sequence {i} has {row.Count} steps, its input has {lengths[i]}.", nameof(targets));
            for (var t = 0; t < row.Count; t++) flat[i * time + t] = row[t];
        }
        return flat;
    }

    private static int[] Labels(int count, IReadOnlyList<int> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Count != count) throw new ArgumentException($"{labels.Count} labels for {count} sequences.", nameof(labels));
        return labels.ToArray();
    }
}
