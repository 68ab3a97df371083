namespace RnnAd.CSharp.Tests;

/// <summary>Seeded random models and batches for gradient checks, spanning the sizes researchers use.</summary>
internal static class Configurations
{
    private static readonly CellType[] Cells = { CellType.Rnn, CellType.RnnRelu, CellType.Lstm, CellType.Gru };

    /// <summary>Configuration <paramref name="index"/>: the cell cycles through all four kinds and the output
    /// mode alternates every four, so any eight consecutive indices cover every kind with both modes.</summary>
    public static (RecurrentModel Model, SequenceBatch Batch, string Description) Random(
        int index, int maxInput = 8, int maxHidden = 16, int maxTime = 40, int maxBatch = 4, int maxLayers = 2)
    {
        var rng = new Random(1_000_003 * (index + 1));
        var cell = Cells[index % 4];
        var output = (index / 4) % 2 == 0 ? OutputMode.EveryStep : OutputMode.LastStep;
        var input = (InputType)rng.Next(3);
        var inputSize = rng.Next(1, maxInput + 1);
        var classes = rng.Next(2, 6);
        var description = new ModelDescription
        {
            Cell = cell,
            Input = input,
            InputSize = inputSize,
            EmbeddingSize = rng.Next(1, 5),
            HiddenSize = rng.Next(1, maxHidden + 1),
            Layers = rng.Next(1, maxLayers + 1),
            Bidirectional = rng.Next(2) == 0,
            Output = output,
            HeadHiddenSizes = rng.Next(3) == 0 ? new[] { rng.Next(1, 6) } : Array.Empty<int>(),
            Outputs = classes,
        };
        var model = RecurrentModel.Create(description, seed: index);
        var count = rng.Next(1, maxBatch + 1);
        var time = rng.Next(1, maxTime + 1);
        var padded = rng.Next(2) == 0;
        var lengths = Enumerable.Range(0, count).Select(i => padded && i > 0 ? rng.Next(1, time + 1) : time).ToArray();
        SequenceBatch batch;
        if (input == InputType.Features)
        {
            var features = lengths.Select(l => Enumerable.Range(0, l).Select(_ => Enumerable.Range(0, inputSize).Select(_ => rng.NextDouble() * 2 - 1).ToArray()).ToArray()).ToList();
            batch = output == OutputMode.EveryStep
                ? SequenceBatch.FromFeatures(features, lengths.Select(l => (IReadOnlyList<int>)Labels(rng, l, classes)).ToList())
                : SequenceBatch.FromFeatures(features, Labels(rng, count, classes));
        }
        else
        {
            var tokens = lengths.Select(l => (IReadOnlyList<int>)Labels(rng, l, inputSize)).ToList();
            batch = output == OutputMode.EveryStep
                ? SequenceBatch.FromTokens(tokens, lengths.Select(l => (IReadOnlyList<int>)Labels(rng, l, classes)).ToList())
                : SequenceBatch.ForClassification(tokens, Labels(rng, count, classes));
        }
        var text = $"#{index} {cell} {input} {inputSize} hidden {description.HiddenSize} layers {description.Layers}"
                   + $"{(description.Bidirectional ? " bidirectional" : "")} {output} batch {count} time {time}{(padded ? " padded" : "")}";
        return (model, batch, text);
    }

    private static int[] Labels(Random rng, int count, int classes) => Enumerable.Range(0, count).Select(_ => rng.Next(classes)).ToArray();
}
