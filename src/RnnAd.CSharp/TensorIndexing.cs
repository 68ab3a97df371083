using RnnAd.FSharp;
using static RnnAd.TensorArguments;

namespace RnnAd;

/// <summary>
/// Differentiable selection by integer indices (rows, classes, gather, index-select and their scatter-add adjoints)
/// and by masks. Indices and masks are data: only the tensors selected from are differentiated. A mask is a
/// tensor whose non-zero entries mean "true", as the comparisons (<c>x.Greater(0)</c>) give; only its value is
/// read, so no gradient reaches it.
/// </summary>
public static class TensorIndexingExtensions
{
    extension(Tensor)
    {
        /// <summary>
        /// <paramref name="a"/> where <paramref name="condition"/> is non-zero, else <paramref name="b"/>; the three
        /// broadcast together. Each branch's gradient is the output's where that branch was taken and 0 elsewhere, so an
        /// infinite value in the branch not taken cannot turn the gradient into NaN.
        /// </summary>
        public static Tensor Where(Tensor condition, Tensor a, Tensor b) => TensorIndexing.Where(NotNull(condition).Value, NotNull(a), NotNull(b));
    }

    extension(Tensor x)
    {
        /// <summary>
        /// Rows of a table (V, …) picked by <paramref name="indices"/>: shape <paramref name="indexShape"/> + the row
        /// shape, the indices laid out row-major over <paramref name="indexShape"/> (default: a vector of them). An
        /// embedding lookup; the gradient adds each output row into the row it came from.
        /// </summary>
        public Tensor GatherRows(int[] indices, int[]? indexShape = null) =>
            TensorIndexing.GatherRows(NotNull(x), NotNull(indices), indexShape ?? new[] { indices.Length });

        /// <summary>
        /// The adjoint of <see cref="GatherRows"/>: shape (<paramref name="rows"/>) + <paramref name="rowShape"/>, row i the
        /// sum of the rows of x whose index is i.
        /// </summary>
        public Tensor ScatterAddRows(int rows, int[] rowShape, int[] indices) =>
            TensorIndexing.ScatterAddRows(NotNull(x), rows, NotNull(rowShape), NotNull(indices));

        /// <summary>For x of shape (…, C): x[…, indices[p]] at every position p of the leading dimensions (row-major), of the leading shape. Picks each target's score.</summary>
        public Tensor GatherLast(int[] indices) => TensorIndexing.GatherLast(NotNull(x), NotNull(indices));

        /// <summary>The adjoint of <see cref="GatherLast"/>: zeros of shape x.Shape + (<paramref name="classes"/>) holding x[p] at [p, indices[p]].</summary>
        public Tensor ScatterLast(int classes, int[] indices) => TensorIndexing.ScatterLast(NotNull(x), classes, NotNull(indices));

        /// <summary>
        /// torch.gather along <paramref name="dim"/>: out[p] = x[p with its coordinate along <paramref name="dim"/>
        /// replaced by index[p]]. The index (row-major <paramref name="indices"/> of shape <paramref name="indexShape"/>)
        /// has x's rank and fits inside x's shape off <paramref name="dim"/>; the result has its shape.
        /// </summary>
        public Tensor Gather(int dim, int[] indices, int[] indexShape) => TensorIndexing.Gather(NotNull(x), dim, NotNull(indices), NotNull(indexShape));

        /// <summary>
        /// torch.scatter_add along <paramref name="dim"/>: a copy of x with each entry of <paramref name="source"/> (of the
        /// index's shape) added where <see cref="Gather"/> with the same index would read it.
        /// </summary>
        public Tensor ScatterAdd(int dim, int[] indices, int[] indexShape, Tensor source) =>
            TensorIndexing.ScatterAdd(NotNull(x), dim, NotNull(indices), NotNull(indexShape), NotNull(source));

        /// <summary>torch.index_select: the entries <paramref name="indices"/> along <paramref name="dim"/>, in that order (repeats allowed).</summary>
        public Tensor IndexSelect(int dim, params int[] indices) => TensorIndexing.IndexSelect(NotNull(x), dim, NotNull(indices));

        /// <summary>torch.index_add: a copy of x with entry q along <paramref name="dim"/> of <paramref name="source"/> added into entry indices[q].</summary>
        public Tensor IndexAdd(int dim, int[] indices, Tensor source) => TensorIndexing.IndexAdd(NotNull(x), dim, NotNull(indices), NotNull(source));

        /// <summary>
        /// torch.masked_fill: <paramref name="value"/> where <paramref name="mask"/> is non-zero, x elsewhere; the mask
        /// broadcasts to x's shape. Filled entries get no gradient.
        /// </summary>
        public Tensor MaskedFill(Tensor mask, double value) => TensorIndexing.MaskedFill(NotNull(x), NotNull(mask).Value, value);
    }
}
