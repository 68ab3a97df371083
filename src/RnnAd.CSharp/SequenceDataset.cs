using RnnAd.FSharp;
using RnnAd.FSharp.Data;
using CoreBatch = RnnAd.FSharp.SequenceBatch;

namespace RnnAd;

/// <summary>
/// Examples a trainer cuts into mini-batches: language-model windows over a text, labelled sequences, or
/// fixed batches. Shuffling is seeded per epoch, so the same seed gives the same batches.
/// </summary>
public sealed class SequenceDataset
{
    private readonly Func<int, int, int, bool, CoreBatch[]> _batches;

    private SequenceDataset(int count, Func<int, int, int, bool, CoreBatch[]> batches)
    {
        Count = count;
        _batches = batches;
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

    /// <summary>Fixed batches, used as they are (in order, or shuffled as whole batches).</summary>
    public static SequenceDataset FromBatches(IReadOnlyList<SequenceBatch> batches)
    {
        ArgumentNullException.ThrowIfNull(batches);
        if (batches.Count == 0) throw new ArgumentException("A dataset needs at least one batch.", nameof(batches));
        var inner = batches.Select((b, i) => (b ?? throw new ArgumentNullException(nameof(batches), $"Batch {i} is null.")).Inner).ToArray();
        return new(inner.Sum(b => b.Batch), (epoch, _, seed, shuffle) => shuffle ? Batching.shuffle(seed, epoch, inner) : inner);
    }

    /// <summary>The mini-batches of one epoch: shuffled from <paramref name="seed"/> and <paramref name="epoch"/> when <paramref name="shuffle"/> is set.</summary>
    public IReadOnlyList<SequenceBatch> GetBatches(int batchSize, int seed = 0, int epoch = 0, bool shuffle = false) =>
        Batches(batchSize, seed, epoch, shuffle).Select(SequenceBatch.Wrap).ToArray();

    internal CoreBatch[] Batches(int batchSize, int seed, int epoch, bool shuffle)
    {
        if (batchSize <= 0) throw new ArgumentException($"The batch size must be positive, got {batchSize}.", nameof(batchSize));
        return _batches(epoch, batchSize, seed, shuffle);
    }

    private static SequenceDataset From<T>(T[] examples, Func<T[], CoreBatch> toBatch)
    {
        var convert = Microsoft.FSharp.Core.FuncConvert.FromFunc(toBatch);
        return new(examples.Length, (epoch, size, seed, shuffle) =>
            shuffle ? Batching.epoch(seed, epoch, size, convert, examples) : Batching.inOrder(size, convert, examples));
    }
}
