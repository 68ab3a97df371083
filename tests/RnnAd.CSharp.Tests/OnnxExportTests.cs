namespace RnnAd.CSharp.Tests;

/// <summary>
/// ONNX export as a C# program calls it. The F# suite runs the exported graphs in ONNX Runtime and compares them
/// with RnnAd; here the facade's two overloads, its options and its refusals.
/// </summary>
public class OnnxExportTests
{
    private static RecurrentModel Classifier() =>
        new ModelBuilder().Gru(5).Bidirectional(true).Embedding(7, 3).ClassifyLastStep(4).Build(seed: 2);

    [Fact]
    public void File_and_stream_hold_the_same_ONNX_model()
    {
        var model = Classifier();
        var folder = Directory.CreateTempSubdirectory("rnnad-onnx-");
        try
        {
            var path = Path.Combine(folder.FullName, "model.onnx");
            var options = new OnnxExportOptions { Probabilities = true };
            model.ExportOnnx(path, options);
            using var stream = new MemoryStream();
            model.ExportOnnx(stream, options);
            Assert.Equal(File.ReadAllBytes(path), stream.ToArray());
            // A ModelProto starts with field 1 (ir_version, varint: key 0x08) holding 8, the IR of opset 17.
            Assert.Equal(new byte[] { 0x08, 0x08 }, stream.ToArray()[..2]);
            Assert.Single(Directory.GetFiles(folder.FullName));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public void Float64_keeps_the_weights_exactly_and_so_takes_more_bytes()
    {
        var model = Classifier();
        using var single = new MemoryStream();
        using var @double = new MemoryStream();
        model.ExportOnnx(single);
        model.ExportOnnx(@double, new OnnxExportOptions { Precision = OnnxPrecision.Float64 });
        Assert.True(@double.Length > single.Length + 4 * model.ParameterCount, $"{@double.Length} bytes against {single.Length}");
    }

    [Fact]
    public void A_regression_model_has_no_probabilities_to_export()
    {
        var model = new ModelBuilder().Lstm(4).Features(2).PredictValuesLastStep(3).Build(seed: 1);
        using var stream = new MemoryStream();
        var e = Assert.Throws<ArgumentException>(() => model.ExportOnnx(stream, new OnnxExportOptions { Probabilities = true }));
        Assert.Contains("regression", e.Message);
        Assert.Equal(0, stream.Length);
        model.ExportOnnx(stream);
        Assert.True(stream.Length > 0);
    }

    [Fact]
    public void Null_arguments_are_named()
    {
        var model = Classifier();
        Assert.Equal("path", Assert.Throws<ArgumentNullException>(() => model.ExportOnnx((string)null!)).ParamName);
        Assert.Equal("stream", Assert.Throws<ArgumentNullException>(() => model.ExportOnnx((Stream)null!)).ParamName);
    }
}
