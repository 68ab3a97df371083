namespace RnnAd.CSharp.Tests;

/// <summary>Bad input to tensor ops fails at once, naming the shapes (or the null argument) at fault.</summary>
public sealed class TensorErrorTests
{
    private static readonly Tensor A = Tensor.Arange(0, 6).Reshape(2, 3);

    private static void Refused(Action op, params string[] parts)
    {
        var message = Assert.ThrowsAny<ArgumentException>(op).Message;
        foreach (var part in parts) Assert.Contains(part, message);
    }

    [Fact]
    public void Shapes_that_do_not_fit_are_named()
    {
        Refused(() => Tensor.MatMul(A, A), "inner dimensions 3 and 2", "(2, 3)");
        Refused(() => _ = A + Tensor.FromArray([1.0, 2]), "(2, 3)", "(2,)");
        Refused(() => A.Reshape(4, -1), "(2, 3)");
        Refused(() => Tensor.Concat([A, Tensor.Zeros(3, 3)], dim: 1), "(2, 3)", "(3, 3)");
        Refused(() => Tensor.Stack([A, A.T]), "(2, 3)", "(3, 2)");
        Refused(() => Tensor.FromArray([1.0, 2, 3, 4, 5], 2, 3), "5 values", "(2, 3)");
        Refused(() => _ = Tensor.Zeros(2, 3, 4).T, "(2, 3, 4)");
        Refused(() => A.Chunk(2, dim: 1), "(2, 3)");
        Refused(() => A.Squeeze(0), "(2, 3)");
        Refused(() => A.Slice(1, 2, 2), "(2, 3)");
        Refused(() => A.MeanSquaredError(Tensor.Zeros(3, 2)), "(3, 2)", "(2, 3)");
        Refused(() => A.Linear(Tensor.Zeros(4, 2)), "(2, 3)", "(4, 2)");
        Refused(() => A.Linear(Tensor.Zeros(4, 2), Tensor.Zeros(4)), "(2, 3)", "(4, 2)", "(4,)");
        Refused(() => A.CrossEntropy([0, 1, 2]), "3 targets", "(2, 3)");
        Refused(() => A.Sum(2), "dimension 2", "rank 2");
    }

    [Fact]
    public void Null_arguments_are_named()
    {
        Tensor missing = null!;
        Assert.Equal("x", Assert.Throws<ArgumentNullException>(() => missing.Sigmoid()).ParamName);
        Assert.Equal("other", Assert.Throws<ArgumentNullException>(() => A.MatMul(missing)).ParamName);
        Assert.Equal("b", Assert.Throws<ArgumentNullException>(() => Tensor.Maximum(A, missing)).ParamName);
        Assert.Equal("parts", Assert.Throws<ArgumentNullException>(() => Tensor.Concat(null!)).ParamName);
        Assert.Contains("Part 1", Assert.Throws<ArgumentNullException>(() => Tensor.Stack([A, missing])).Message);
        Assert.Equal("shape", Assert.Throws<ArgumentNullException>(() => A.Reshape(null!)).ParamName);
        Assert.Equal("mask", Assert.Throws<ArgumentNullException>(() => A.MaskedFill(missing, 0)).ParamName);
    }
}
