namespace RnnAd.FSharp

open RnnAd

/// The built-in cells as values: PyTorch's RNN (tanh, relu), LSTM and GRU, each its readable step (Rnn.fs,
/// Lstm.fs, Gru.fs) and its fused whole-sequence kernel (FusedSequence.fs), with PyTorch's parameter names,
/// shapes and initialisation. They are ordinary `Cell` values: everything that runs them runs a custom cell
/// the same way.
[<RequireQualifiedAccess>]
module Cells =

    /// A built-in cell: its kind's name and layout, the step over `CellParams`, and the fused kernel.
    let private builtIn (kind: CellKind) (slots: int) (step: CellParams -> CellState -> Tensor -> CellState) (fused: SequenceKernel) : Cell =
        { Cell.create kind.Name (CellParams.layout kind.Gates) slots (fun p -> step (CellParams.ofNamed p)) with Fused = Some fused }

    /// The last step of every row of a (batch, time, hidden) output: the final h.
    let private last (outputs: Tensor) = outputs.Select(1, outputs.Shape.[1] - 1)

    let private rnn (kind: CellKind) (relu: bool) (activation: Tensor -> Tensor) : Cell =
        builtIn kind 1
            (fun p s x -> CellState.Of(Rnn.step activation p s.H x))
            (fun schedule p xs init probes ->
                let hs = FusedSequence.rnn relu schedule (CellParams.ofNamed p) xs init.H probes
                hs, CellState.Of(last hs))

    /// The Elman RNN with tanh (PyTorch's `nn.RNN`).
    let rnnTanh: Cell = rnn CellKind.RnnTanh false tanh

    /// The Elman RNN with relu (`nn.RNN(nonlinearity='relu')`).
    let rnnRelu: Cell = rnn CellKind.RnnRelu true Nn.relu

    /// The LSTM (`nn.LSTM`): state slots h and c.
    let lstm: Cell =
        builtIn CellKind.Lstm 2
            (fun p s x -> let h, c = Lstm.step p (s.H, s.Slots.[1]) x in CellState.Of(h, c))
            (fun schedule p xs init probes ->
                // The kernel packs every h and the last c as (batch, time + 1, hidden).
                let time = xs.Shape.[1]
                let packed = FusedSequence.lstm schedule (CellParams.ofNamed p) xs init.H init.Slots.[1] probes
                packed.Slice(1, 0, time), CellState.Of(packed.Select(1, time - 1), packed.Select(1, time)))

    /// The GRU (`nn.GRU`).
    let gru: Cell =
        builtIn CellKind.Gru 1
            (fun p s x -> CellState.Of(Gru.step p s.H x))
            (fun schedule p xs init probes ->
                let hs = FusedSequence.gru schedule (CellParams.ofNamed p) xs init.H probes
                hs, CellState.Of(last hs))

    /// The cell a built-in kind names.
    let ofKind (kind: CellKind) : Cell =
        match kind with
        | CellKind.RnnTanh -> rnnTanh
        | CellKind.RnnRelu -> rnnRelu
        | CellKind.Lstm -> lstm
        | CellKind.Gru -> gru

    /// The built-in kind of a cell, if it is one of the four built-in values (the hand-derived BPTT reference
    /// and PyTorch's layout apply to them).
    let kindOf (cell: Cell) : CellKind option =
        [ CellKind.RnnTanh; CellKind.RnnRelu; CellKind.Lstm; CellKind.Gru ] |> List.tryFind (fun k -> obj.ReferenceEquals(ofKind k, cell))

    /// The cell of a checkpoint's name: a built-in one by PyTorch's mode name, else the custom cell of that
    /// name among `custom`.
    let tryFind (custom: Cell list) (name: string) : Cell option =
        match CellKind.TryParse name with
        | Some k -> Some(ofKind k)
        | None -> custom |> List.tryFind (fun c -> c.Name = name)
