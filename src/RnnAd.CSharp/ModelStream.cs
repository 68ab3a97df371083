using Microsoft.FSharp.Core;
using RnnAd.FSharp;

namespace RnnAd;

/// <summary>
/// The state a recurrent stack is in, in PyTorch's layout: slot k of every layer and direction stacked as
/// (layers · directions, batch, hidden), index layer · directions + direction. Slot 0 is h (PyTorch's h_n),
/// slot 1 an LSTM's c (c_n).
/// </summary>
public sealed class RecurrentState
{
    private RecurrentState(CellState[] core, IReadOnlyList<Tensor> slots)
    {
        Core = core;
        Slots = slots;
    }

    internal CellState[] Core { get; }

    /// <summary>Every state slot, each (layers · directions, batch, hidden).</summary>
    public IReadOnlyList<Tensor> Slots { get; }

    /// <summary>h_n: every layer and direction's last output, (layers · directions, batch, hidden).</summary>
    public Tensor H => Slots[0];

    /// <summary>c_n, an LSTM's cell state (null for cells with one slot).</summary>
    public Tensor? C => Slots.Count > 1 ? Slots[1] : null;

    internal static RecurrentState FromCore(CellState[] states) =>
        new(states, Enumerable.Range(0, states[0].Slots.Length).Select(k => Stack(states.Select(s => s.Slots[k].Value).ToArray())).ToArray());

    /// <summary>Equal-shaped (batch, hidden) values stacked along a new first dimension.</summary>
    private static Tensor Stack(FSharp.Storage.RawTensor[] parts) =>
        Tensor.Constant(FSharp.Storage.RawTensorModule.ofArray(
            new[] { parts.Length }.Concat(parts[0].Shape).ToArray(), parts.SelectMany(p => p.ToArray()).ToArray()));
}

/// <summary>
/// Runs a model over a sequence that arrives in pieces (a live feed, a text too long to hold at once), carrying
/// its state from piece to piece: the outputs of the pieces equal those of one call over the whole sequence, to
/// the bit. Every piece must hold the same number of sequences.
/// </summary>
public sealed class ModelStream
{
    private readonly RecurrentModel _model;

    internal ModelStream(RecurrentModel model) => _model = model;

    /// <summary>The state after the pieces fed so far; null before the first.</summary>
    public RecurrentState? State { get; private set; }

    /// <summary>Runs the next piece from the carried state: its outputs, laid out as <see cref="RecurrentModel.PredictValues"/>.</summary>
    public IReadOnlyList<double[][]> Feed(SequenceBatch piece)
    {
        ArgumentNullException.ThrowIfNull(piece);
        if (State is { } s && s.H.Shape[1] != piece.Count)
            throw new ArgumentException($"The piece holds {piece.Count} sequences, the stream carries {s.H.Shape[1]}; every piece must hold the same sequences.", nameof(piece));
        var options = new RunOptions(null, State is null ? null : FSharpOption<CellState[]>.Some(State.Core), null, null, null);
        var (outputs, finals) = _model.Core.Forward.Invoke(_model.Parameters).Invoke(options).Invoke(piece.WithoutTargets().Inner).ToValueTuple();
        State = RecurrentState.FromCore(finals);
        return RecurrentModel.PerSequence(outputs.Value, piece, _model.Description.Output == OutputMode.EveryStep);
    }

    /// <summary>Forgets the carried state: the next piece starts a new sequence.</summary>
    public void Reset() => State = null;
}
