using RnnAd.FSharp.Data;

namespace RnnAd;

/// <summary>Texts with a label each, read from a CSV file.</summary>
/// <param name="Texts">The texts, one per row.</param>
/// <param name="Labels">Each text's class, an index into <paramref name="ClassNames"/>.</param>
/// <param name="ClassNames">The file's distinct labels in ordinal order (the same file always gives the same indices): give them to the
/// model with <see cref="RecurrentModel.WithClassNames"/> so that it carries them.</param>
public sealed record LabelledTexts(IReadOnlyList<string> Texts, IReadOnlyList<int> Labels, IReadOnlyList<string> ClassNames);

/// <summary>
/// Training data from CSV files with a header row (RFC 4180, commas; strict UTF-8). Every error is an
/// <see cref="InvalidDataException"/> naming the file, the line and the column (a missing file: <see cref="FileNotFoundException"/>).
/// </summary>
public static class CsvData
{
    /// <summary>The texts of <paramref name="textColumn"/> and the labels of <paramref name="labelColumn"/>, one example per row.</summary>
    public static LabelledTexts ReadLabelledText(string path, string textColumn, string labelColumn)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(textColumn);
        ArgumentNullException.ThrowIfNull(labelColumn);
        var data = Csv.readLabelledText(path, textColumn, labelColumn);
        return new LabelledTexts(data.Texts, data.Labels, data.ClassNames);
    }

    /// <summary>
    /// The numbers of <paramref name="columns"/>, one row per line in file order (time → values, in the order the columns are named):
    /// the series <see cref="SequenceDataset.ForForecasting(IReadOnlyList{double[]}, IReadOnlyList{double[]}, int, int, int)"/> cuts
    /// into windows. Numbers are read in the invariant culture and must be finite.
    /// </summary>
    public static double[][] ReadSeries(string path, params string[] columns)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(columns);
        return Csv.readSeries(path, columns);
    }
}
