namespace RnnAd.FSharp

open System
open RnnAd

/// The built-in cells as values: PyTorch's RNN (tanh, relu), LSTM and GRU, with or without biases, each its
/// readable step (Rnn.fs, Lstm.fs, Gru.fs) and its fused whole-sequence kernel (FusedSequence.fs), with
/// PyTorch's parameter names, shapes and initialisation. They are ordinary `Cell` values: everything that runs
/// them runs a custom cell the same way.
[<RequireQualifiedAccess>]
module Cells =

    /// x ↦ x·W_ihᵀ + b_ih and h ↦ h·W_hhᵀ + b_hh, the two affine parts every built-in step starts from, looked
    /// up once per sequence; without the biases for a bias-free cell.
    let private parts (bias: bool) (p: NamedTensors) : (Tensor -> Tensor) * (Tensor -> Tensor) =
        if bias then Nn.linear p.["weight_ih"] p.["bias_ih"], Nn.linear p.["weight_hh"] p.["bias_hh"]
        else Nn.linearNoBias p.["weight_ih"], Nn.linearNoBias p.["weight_hh"]

    /// A built-in cell: its kind's name, the layout with or without biases, the readable step from the two
    /// affine parts, and the fused kernel from the kind's pointwise code.
    let private create (kind: CellKind) (bias: bool) : Cell =
        let step: (Tensor -> Tensor) -> (Tensor -> Tensor) -> CellState -> Tensor -> CellState =
            match kind with
            | CellKind.RnnTanh -> fun ih hh s x -> CellState.Of(Rnn.update tanh (ih x) (hh s.H))
            | CellKind.RnnRelu -> fun ih hh s x -> CellState.Of(Rnn.update Nn.relu (ih x) (hh s.H))
            | CellKind.Lstm -> fun ih hh s x -> let h, c = Lstm.update (ih x) (hh s.H) s.Slots.[1] in CellState.Of(h, c)
            | CellKind.Gru -> fun ih hh s x -> CellState.Of(Gru.update (ih x) (hh s.H) s.H)
        let pointwise =
            match kind with
            | CellKind.RnnTanh -> FusedSequence.rnn false
            | CellKind.RnnRelu -> FusedSequence.rnn true
            | CellKind.Lstm -> FusedSequence.lstm
            | CellKind.Gru -> FusedSequence.gru
        { Cell.create kind.Name (CellParams.layoutWith bias kind.Gates) pointwise.Slots (fun p -> let ih, hh = parts bias p in step ih hh) with
            Fused = Some(FusedSequence.kernel pointwise bias) }

    let private kinds = [| CellKind.RnnTanh; CellKind.RnnRelu; CellKind.Lstm; CellKind.Gru |]

    /// Each built-in cell made once, so that a cell value says which built-in it is by reference.
    let private withBiases = kinds |> Array.map (fun k -> create k true)
    let private biasFree = kinds |> Array.map (fun k -> create k false)

    /// The built-in cell a kind and a bias flag name: PyTorch's `bias=True` (the default) or `bias=False`,
    /// which has neither `bias_ih` nor `bias_hh`. The same value every time for the same arguments.
    let ofBuiltIn (builtIn: BuiltInCell) : Cell =
        (if builtIn.Bias then withBiases else biasFree).[Array.IndexOf(kinds, builtIn.Kind)]

    /// The Elman RNN with tanh (PyTorch's `nn.RNN`).
    let rnnTanh: Cell = ofBuiltIn { Kind = CellKind.RnnTanh; Bias = true }

    /// The Elman RNN with relu (`nn.RNN(nonlinearity='relu')`).
    let rnnRelu: Cell = ofBuiltIn { Kind = CellKind.RnnRelu; Bias = true }

    /// The LSTM (`nn.LSTM`): state slots h and c.
    let lstm: Cell = ofBuiltIn { Kind = CellKind.Lstm; Bias = true }

    /// The GRU (`nn.GRU`).
    let gru: Cell = ofBuiltIn { Kind = CellKind.Gru; Bias = true }

    /// The cell a built-in kind names, with PyTorch's biases.
    let ofKind (kind: CellKind) : Cell = ofBuiltIn { Kind = kind; Bias = true }

    /// The cell of a built-in kind without biases, PyTorch's `bias=False`: parameters `weight_ih` and
    /// `weight_hh` only, and the equations without the bias adds (the GRU's n = tanh(W_in·x + r ⊙ (W_hn·h))).
    /// Its name is the kind's, as PyTorch's mode is; `tryBuiltIn` tells the two apart.
    let withoutBias (kind: CellKind) : Cell = ofBuiltIn { Kind = kind; Bias = false }

    /// Which built-in cell a cell is, kind and bias flag, if it is one of the eight built-in values (the
    /// hand-derived BPTT reference and PyTorch's layout apply to them).
    let tryBuiltIn (cell: Cell) : BuiltInCell option =
        [ for bias in [ true; false ] do for kind in kinds -> { Kind = kind; Bias = bias } ]
        |> List.tryFind (fun b -> obj.ReferenceEquals(ofBuiltIn b, cell))

    /// The built-in kind of a cell if it is one of the four cells with PyTorch's default layout, biases
    /// included (`ofKind`'s inverse). A bias-free cell gives None: it lacks the `bias_ih` and `bias_hh` that a
    /// caller of this function expects; `tryBuiltIn` names it.
    let kindOf (cell: Cell) : CellKind option =
        match tryBuiltIn cell with
        | Some b when b.Bias -> Some b.Kind
        | _ -> None

    /// The cell of a checkpoint's name: a built-in one by PyTorch's mode name, else the custom cell of that
    /// name among `custom`. A mode name alone means PyTorch's default, the cell with biases (every checkpoint
    /// names its cell so); a bias-free cell shares its mode's name, so whatever stores one must store its
    /// bias flag beside the name and rebuild it with `ofBuiltIn`.
    let tryFind (custom: Cell list) (name: string) : Cell option =
        match CellKind.TryParse name with
        | Some k -> Some(ofKind k)
        | None -> custom |> List.tryFind (fun c -> c.Name = name)
