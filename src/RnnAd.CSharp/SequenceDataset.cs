using RnnAd.FSharp;
using RnnAd.FSharp.Data;
using CoreBatch = RnnAd.FSharp.Minibatch;

namespace RnnAd;

/// <summary>
/// Examples a trainer cuts into mini-batches: language-model windows over a text, labelled sequences, or
/// fixed batches. Shuffling is seeded per epoch, so the same seed gives the same batches.
/// </summary>
public sealed class SequenceDataset
{
    private readonly Func<int, int, int, bool, CoreBatch[]> _batches;

    // What a split cuts: the examples in order (or the batches of a dataset of fixed batches).
    private readonly int _units;
    private readonly Func<int, int, SequenceDataset> _slice;
    private readonly Func<int[], SequenceDataset> _select;

    private SequenceDataset(int count, Func<int, int, int, bool, CoreBatch[]> batches, int units, Func<int, int, SequenceDataset> slice, Func<int[], SequenceDataset> select)
    {
        Count = count;
        _batches = batches;
        _units = units;
        _slice = slice;
        _select = select;
    }

    /// <summary>Number of examples.</summary>
    public int Count { get; }

    /// <summary>Next-token windows of <paramref name="windowLength"/> over a text, one starting every <paramref name="stride"/> tokens.</summary>
    public static SequenceDataset ForLanguageModel(string text, Vocabulary vocabulary, int windowLength, int stride = 1)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        return ForLanguageModel(vocabulary.Encode(text), windowLength, stride);
    }

    /// <summary>Next-token windows of <paramref name="windowLength"/> over token ids, one starting every <paramref name="stride"/> tokens.</summary>
    public static SequenceDataset ForLanguageModel(IReadOnlyList<int> tokens, int windowLength, int stride = 1)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        var examples = Windows.strided(windowLength, stride, tokens.ToArray());
        return From(examples, Batching.languageModel);
    }

    /// <summary>Token sequences of any positive lengths with one label each (padded and masked in batches).</summary>
    public static SequenceDataset ForClassification(IReadOnlyList<IReadOnlyList<int>> sequences, IReadOnlyList<int> labels, int paddingId = 0)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        ArgumentNullException.ThrowIfNull(labels);
        if (sequences.Count != labels.Count)
            throw new ArgumentException($"{labels.Count} labels for {sequences.Count} sequences.", nameof(labels));
        var examples = sequences.Select((s, i) => new ClassificationExample(
            (s ?? throw new ArgumentNullException(nameof(sequences), $"Sequence {i} is null.")).ToArray(), labels[i])).ToArray();
        return From(examples, e => Batching.classification(paddingId, e));
    }

    /// <summary>
    /// Forecasting windows over a series: each example reads <paramref name="windowLength"/> consecutive values and
    /// targets the <paramref name="horizon"/> values that follow; windows start every <paramref name="stride"/> values.
    /// For a model of one feature per step predicting <paramref name="horizon"/> values per sequence.
    /// </summary>
    public static SequenceDataset ForForecasting(IReadOnlyList<double> series, int windowLength, int horizon, int stride = 1)
    {
        ArgumentNullException.ThrowIfNull(series);
        var steps = series.Select(v => new[] { v }).ToArray();
        return ForForecasting(steps, steps, windowLength, horizon, stride);
    }

    /// <summary>
    /// Forecasting windows over a multivariate series: each example reads <paramref name="windowLength"/> steps of
    /// <paramref name="features"/> (time → values) and targets the <paramref name="targets"/> rows of the
    /// <paramref name="horizon"/> steps that follow, laid out step after step (horizon × target width values).
    /// </summary>
    public static SequenceDataset ForForecasting(IReadOnlyList<double[]> features, IReadOnlyList<double[]> targets, int windowLength, int horizon, int stride = 1)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(targets);
        if (windowLength <= 0) throw new ArgumentException($"The window length must be positive, got {windowLength}.", nameof(windowLength));
        if (horizon <= 0) throw new ArgumentException($"The horizon must be positive, got {horizon}.", nameof(horizon));
        if (stride <= 0) throw new ArgumentException($"The stride must be positive, got {stride}.", nameof(stride));
        if (targets.Count != features.Count)
            throw new ArgumentException($"{targets.Count} target rows for {features.Count} feature rows; the series must align.", nameof(targets));
        if ((long)windowLength + horizon > features.Count)
            throw new ArgumentException($"A series of {features.Count} steps is shorter than one window of {windowLength} plus a horizon of {horizon}.", nameof(features));
        var count = (int)((features.Count - (long)windowLength - horizon) / stride + 1);
        var examples = Enumerable.Range(0, count).Select(k =>
        {
            var start = k * stride;
            var inputs = Enumerable.Range(start, windowLength).Select(t => features[t]).ToArray();
            var next = Enumerable.Range(start + windowLength, horizon).SelectMany(t => targets[t] ?? throw new ArgumentNullException(nameof(targets), $"Target row {t} is null.")).ToArray();
            return (Inputs: inputs, Targets: next);
        }).ToArray();
        // Checks shapes and values once, naming the step at fault; batches reuse the checked rows.
        SequenceBatch.FromFeatures(examples.Select(e => e.Inputs).ToArray(), examples.Select(e => e.Targets).ToArray());
        return From(examples, chunk => SequenceBatch.FromFeatures(chunk.Select(e => e.Inputs).ToArray(), chunk.Select(e => e.Targets).ToArray()).Inner);
    }

    /// <summary>
    /// Texts with one label each (a CSV file's, say: <see cref="CsvData.ReadLabelledText"/>), each encoded with
    /// <paramref name="vocabulary"/> (padded and masked in batches with <paramref name="paddingId"/>).
    /// </summary>
    public static SequenceDataset ForClassification(IReadOnlyList<string> texts, IReadOnlyList<int> labels, Vocabulary vocabulary, int paddingId = 0)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentNullException.ThrowIfNull(vocabulary);
        var sequences = texts.Select((t, i) =>
        {
            var ids = vocabulary.Encode(t ?? throw new ArgumentNullException(nameof(texts), $"Text {i} is null."));
            return ids.Length > 0 ? (IReadOnlyList<int>)ids : throw new ArgumentException($"Text {i} has no token in the vocabulary.", nameof(texts));
        }).ToArray();
        return ForClassification(sequences, labels, paddingId);
    }

    /// <summary>
    /// The examples in their order, cut in two: the first <paramref name="trainFraction"/> for training, the rest for
    /// validation, with <paramref name="gap"/> examples dropped between them. Overlapping forecasting windows share
    /// values across the cut; a gap of ⌈(window + horizon) / stride⌉ − 1 keeps every validation value out of the
    /// training windows (and ⌈window / stride⌉ − 1 does for language-model windows).
    /// </summary>
    public (SequenceDataset Train, SequenceDataset Validation) SplitChronologically(double trainFraction, int gap = 0)
    {
        var train = Splits.trainCount(_units, trainFraction, gap);
        return (_slice(0, train), _slice(train + gap, _units - train - gap));
    }

    /// <summary>
    /// A random <paramref name="trainFraction"/> of the examples for training and the rest for validation, chosen from
    /// <paramref name="seed"/> (the same seed, the same split), each part in the examples' order. For independent examples
    /// (classification); series and texts, whose overlapping windows would share values across the cut, split chronologically.
    /// </summary>
    public (SequenceDataset Train, SequenceDataset Validation) SplitRandomly(double trainFraction, int seed = 0)
    {
        var (train, validation) = Splits.random(seed, trainFraction, Enumerable.Range(0, _units).ToArray()).ToValueTuple();
        return (_select(train), _select(validation));
    }

    /// <summary>A SHA-256 digest of every example (inputs, mask and targets, in order): what a resumed run checks its data against.</summary>
    internal string Digest()
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        void Add<T>(ReadOnlySpan<T> values) where T : struct => hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
        // One example per batch, so that the digest does not depend on the batch size (which pads differently).
        foreach (var b in Batches(1, 0, 0, false))
        {
            Add<int>(new[] { b.Batch, b.Time });
            switch (b.Input)
            {
                case SequenceInput.Tokens t: Add<int>(t.ids); break;
                case SequenceInput.Features f: Add<double>(f.values.Value.AsSpan()); break;
            }
            if (b.Mask is { } mask) Add<double>(mask.Value);
            switch (b.Targets)
            {
                case Targets.Classes c: Add<int>(c.classes); break;
                case Targets.Values v: Add<double>(v.values.Value.AsSpan()); break;
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Fixed batches, used as they are (in order, or shuffled as whole batches).</summary>
    public static SequenceDataset FromBatches(IReadOnlyList<SequenceBatch> batches)
    {
        ArgumentNullException.ThrowIfNull(batches);
        if (batches.Count == 0) throw new ArgumentException("A dataset needs at least one batch.", nameof(batches));
        var inner = batches.Select((b, i) => (b ?? throw new ArgumentNullException(nameof(batches), $"Batch {i} is null.")).Inner).ToArray();
        return OfBatches(inner);
    }

    /// <summary>The mini-batches of one epoch: shuffled from <paramref name="seed"/> and <paramref name="epoch"/> when <paramref name="shuffle"/> is set.</summary>
    public IReadOnlyList<SequenceBatch> GetBatches(int batchSize, int seed = 0, int epoch = 0, bool shuffle = false) =>
        Batches(batchSize, seed, epoch, shuffle).Select(SequenceBatch.Wrap).ToArray();

    internal CoreBatch[] Batches(int batchSize, int seed, int epoch, bool shuffle)
    {
        if (batchSize <= 0) throw new ArgumentException($"The batch size must be positive, got {batchSize}.", nameof(batchSize));
        return _batches(epoch, batchSize, seed, shuffle);
    }

    private static SequenceDataset OfBatches(CoreBatch[] batches) =>
        new(batches.Sum(b => b.Batch), (epoch, _, seed, shuffle) => shuffle ? Batching.shuffle(seed, epoch, batches) : batches,
            batches.Length, (start, count) => OfBatches(batches[start..(start + count)]), indices => OfBatches(indices.Select(i => batches[i]).ToArray()));

    private static SequenceDataset From<T>(T[] examples, Func<T[], CoreBatch> toBatch)
    {
        if (examples.Length == 0) throw new ArgumentException("A dataset needs at least one example, got none.", nameof(examples));
        var convert = Microsoft.FSharp.Core.FuncConvert.FromFunc(toBatch);
        return new(examples.Length, (epoch, size, seed, shuffle) =>
            shuffle ? Batching.epoch(seed, epoch, size, convert, examples) : Batching.inOrder(size, convert, examples),
            examples.Length, (start, count) => From(examples[start..(start + count)], toBatch), indices => From(indices.Select(i => examples[i]).ToArray(), toBatch));
    }
}
