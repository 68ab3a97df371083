namespace RnnAd.FSharp

open RnnAd

/// The built-in cells as values: PyTorch's RNN (tanh, relu), LSTM and GRU, each its readable step (Rnn.fs,
/// Lstm.fs, Gru.fs) and its fused whole-sequence kernel (FusedSequence.fs), with PyTorch's parameter names,
/// shapes and initialisation. They are ordinary `Cell` values: everything that runs them runs a custom cell
/// the same way.
[<RequireQualifiedAccess>]
module Cells =

    /// A built-in cell: its kind's name and layout, the step over `CellParams`, and the fused kernel from the
    /// kind's pointwise code.
    let private builtIn (kind: CellKind) (step: CellParams -> CellState -> Tensor -> CellState) (pointwise: PointwiseCell) : Cell =
        { Cell.create kind.Name (CellParams.layout kind.Gates) pointwise.Slots (fun p -> step (CellParams.ofNamed p)) with
            Fused = Some(FusedSequence.kernel pointwise true) }

    /// The Elman RNN with tanh (PyTorch's `nn.RNN`).
    let rnnTanh: Cell = builtIn CellKind.RnnTanh (fun p s x -> CellState.Of(Rnn.step tanh p s.H x)) (FusedSequence.rnn false)

    /// The Elman RNN with relu (`nn.RNN(nonlinearity='relu')`).
    let rnnRelu: Cell = builtIn CellKind.RnnRelu (fun p s x -> CellState.Of(Rnn.step Nn.relu p s.H x)) (FusedSequence.rnn true)

    /// The LSTM (`nn.LSTM`): state slots h and c.
    let lstm: Cell =
        builtIn CellKind.Lstm (fun p s x -> let h, c = Lstm.step p (s.H, s.Slots.[1]) x in CellState.Of(h, c)) FusedSequence.lstm

    /// The GRU (`nn.GRU`).
    let gru: Cell = builtIn CellKind.Gru (fun p s x -> CellState.Of(Gru.step p s.H x)) FusedSequence.gru

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
