using static RnnAd.CSharp.Tests.TensorAssert;

namespace RnnAd.CSharp.Tests;

/// <summary>Shaping and indexing ops from C#, each on a small tensor whose result is written out by hand.</summary>
public sealed class TensorShapingTests
{
    /// <summary>[[0, 1, 2], [3, 4, 5]]</summary>
    private static readonly Tensor X = Tensor.Arange(0, 6).Reshape(2, 3);

    [Fact]
    public void Reshape_permute_and_transpose_move_values_as_written()
    {
        Values(new[] { 0.0, 1, 2, 3, 4, 5 }, [3, 2], X.Reshape(3, -1));
        Values(new[] { 0.0, 3, 1, 4, 2, 5 }, [3, 2], X.T);
        Values(new[] { 0.0, 3, 1, 4, 2, 5 }, [3, 2], X.Transpose(0, 1));
        // y[k, i, j] = x[i, j, k] = 12i + 4j + k for x = 0 … 23 in shape (2, 3, 4).
        var cube = Tensor.Arange(0, 24).Reshape(2, 3, 4);
        var expected = new List<double>();
        for (var k = 0; k < 4; k++)
            for (var i = 0; i < 2; i++)
                for (var j = 0; j < 3; j++)
                    expected.Add(12 * i + 4 * j + k);
        Values(expected.ToArray(), [4, 2, 3], cube.Permute(2, 0, 1));
        Values(cube.Permute(2, 0, 1).ToArray(), [4, 2, 3], cube.Permute(-1, 0, 1));
    }

    [Fact]
    public void Slices_and_dimensions_of_size_one()
    {
        Values(new[] { 1.0, 2, 4, 5 }, [2, 2], X.Slice(1, 1, 2));
        Values(new[] { 0.0, 1, 2, 0, 0, 4, 5, 0 }, [2, 4], X.Slice(1, 1, 2).Unslice(1, 1, 4));
        Values(new[] { 1.0, 2, 4, 5 }, [2, 2], X.Narrow(1, -2, 2));
        Values(new[] { 3.0, 4, 5 }, [3], X.Select(0, 1));
        Values(new[] { 2.0, 5 }, [2], X.Select(1, -1));
        Values(X.ToArray(), [1, 2, 3], X.Unsqueeze(0));
        Values(X.ToArray(), [2, 3, 1], X.Unsqueeze(-1));
        Values(X.ToArray(), [2, 3], X.Unsqueeze(0).Squeeze(0));
    }

    [Fact]
    public void Pad_repeat_and_flip()
    {
        Values(new[] { 9.0, 0, 1, 2, 9, 9, 9, 3, 4, 5, 9, 9 }, [2, 6], X.Pad(1, 1, 2, value: 9));
        Values(new[] { 0.0, 0, 0, 0, 1, 2, 3, 4, 5 }, [3, 3], X.Pad(0, 1, 0));
        Values(new[] { 0.0, 0, 0, 0, 0, 1, 2, 0, 3, 4, 5, 0 }, [3, 4], X.Pad([(1, 0), (0, 1)]));
        Values(new[] { 7.0, 7, 7, 7, 0, 1, 2, 7, 3, 4, 5, 7 }, [3, 4], X.Pad([(1, 0), (0, 1)], value: 7));
        Values(new[] { 0.0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5 }, [4, 3], X.Repeat(2, 1));
        Values(new[] { 0.0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5 }, [2, 6], X.Repeat(1, 2));
        Values(X.ToArray().Concat(X.ToArray()).ToArray(), [2, 2, 3], X.Repeat(2, 1, 1));
        Values(new[] { 2.0, 1, 0, 5, 4, 3 }, [2, 3], X.Flip(1));
        Values(new[] { 3.0, 4, 5, 0, 1, 2 }, [2, 3], X.Flip(0));
    }

    [Fact]
    public void Concat_stack_split_and_chunk()
    {
        var y = X * 10.0;
        Values(new[] { 0.0, 1, 2, 3, 4, 5, 0, 10, 20, 30, 40, 50 }, [4, 3], Tensor.Concat([X, y]));
        Values(new[] { 0.0, 1, 2, 0, 10, 20, 3, 4, 5, 30, 40, 50 }, [2, 6], Tensor.Concat(new List<Tensor> { X, y }, dim: 1));
        Values(new[] { 0.0, 1, 2, 3, 4, 5, 0, 10, 20, 30, 40, 50 }, [2, 2, 3], Tensor.Stack([X, y]));
        Values(new[] { 0.0, 1, 2, 0, 10, 20, 3, 4, 5, 30, 40, 50 }, [2, 2, 3], Tensor.Stack([X, y], dim: 1));
        var split = X.Split([1, 2], dim: 1);
        Assert.Equal(2, split.Length);
        Values(new[] { 0.0, 3 }, [2, 1], split[0]);
        Values(new[] { 1.0, 2, 4, 5 }, [2, 2], split[1]);
        var chunks = X.Chunk(3, dim: 1);
        Assert.Equal(3, chunks.Length);
        Values(new[] { 2.0, 5 }, [2, 1], chunks[2]);
        var rows = X.Chunk(2);
        Values(new[] { 3.0, 4, 5 }, [1, 3], rows[1]);
    }

    [Fact]
    public void Rows_and_classes_are_gathered_and_scattered_back()
    {
        var table = Tensor.FromArray(new double[,] { { 0, 1 }, { 10, 11 }, { 20, 21 } });
        Values(new[] { 20.0, 21, 0, 1, 20, 21 }, [3, 2], table.GatherRows([2, 0, 2]));
        Values(new[] { 20.0, 21, 0, 1, 20, 21 }, [1, 3, 2], table.GatherRows([2, 0, 2], indexShape: [1, 3]));
        Values(new[] { 20.0, 21, 0, 1, 20, 21 }, [3, 2], table.Embedding([2, 0, 2]));
        Values(new[] { 20.0, 21, 10, 11 }, [2, 1, 2], table.Embedding([2, 1], indexShape: [2, 1]));
        // Row 2 is picked twice, so it receives two rows of ones; row 1 none.
        Values(new[] { 1.0, 1, 0, 0, 2, 2 }, [3, 2], Tensor.Ones(3, 2).ScatterAddRows(3, [2], [2, 0, 2]));
        Values(new[] { 2.0, 3 }, [2], X.GatherLast([2, 0]));
        Values(new[] { 0.0, 0, 7, 8, 0, 0 }, [2, 3], Tensor.FromArray([7.0, 8]).ScatterLast(3, [2, 0]));
    }

    [Fact]
    public void Gather_scatter_and_index_ops_follow_PyTorch()
    {
        // gather along 1 with index [[0, 0], [1, 2]]: out[i, j] = x[i, index[i, j]].
        Values(new[] { 0.0, 0, 4, 5 }, [2, 2], X.Gather(1, [0, 0, 1, 2], [2, 2]));
        // scatter_add of [[1, 2], [3, 4]] at the same places: row 0 gets 1 + 2 in column 0, row 1 gets 3 and 4 in 1 and 2.
        Values(new[] { 3.0, 1, 2, 3, 7, 9 }, [2, 3], X.ScatterAdd(1, [0, 0, 1, 2], [2, 2], Tensor.FromArray([1.0, 2, 3, 4], 2, 2)));
        Values(new[] { 2.0, 0, 2, 5, 3, 5 }, [2, 3], X.IndexSelect(1, 2, 0, 2));
        Values(new[] { 0.0, 1, 2, 6, 7, 8 }, [2, 3], X.IndexAdd(0, [1, 1], Tensor.FromArray([1.0, 1, 1, 2, 2, 2], 2, 3)));
    }

    [Fact]
    public void Masks_are_tensors_of_zeros_and_ones()
    {
        var mask = Tensor.FromArray([1.0, 0, 0, 0, 0, 1], 2, 3);
        Values(new[] { -1.0, 1, 2, 3, 4, -1 }, [2, 3], X.MaskedFill(mask, -1));
        Values(new[] { 0.0, -1, 2, 3, -1, 5 }, [2, 3], X.MaskedFill(Tensor.FromArray([0.0, 1, 0]), -1));
        Values(new[] { 0.0, -1, -2, 3, 4, 5 }, [2, 3], Tensor.Where(X.Greater(2), X, -X));
        Values(new[] { 0.0, 0, 0, 3, 4, 5 }, [2, 3], Tensor.Where(X.Greater(2), X, Tensor.Scalar(0)));
    }
}
