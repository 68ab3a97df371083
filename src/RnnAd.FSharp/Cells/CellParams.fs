namespace RnnAd.FSharp

open RnnAd

/// The names of the cells RnnAd provides, with PyTorch's equations and parameter layout: what checkpoints
/// and PyTorch call them, and how many gate blocks their weights stack. The cells themselves are values
/// (`Cells.lstm`, …); this registry names them.
[<RequireQualifiedAccess>]
type CellKind =
    /// Elman RNN with tanh: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (without b_ih and b_hh when bias-free).
    | RnnTanh
    /// Elman RNN with relu.
    | RnnRelu
    /// Long short-term memory, gates in the order i, f, g, o.
    | Lstm
    /// Gated recurrent unit, gates in the order r, z, n.
    | Gru

    /// How many hidden-sized blocks the stacked weights hold (1, 4 or 3).
    member k.Gates =
        match k with
        | RnnTanh | RnnRelu -> 1
        | Lstm -> 4
        | Gru -> 3

    /// PyTorch's mode name (`RNN_TANH`, `RNN_RELU`, `LSTM`, `GRU`), used in checkpoints.
    member k.Name =
        match k with
        | RnnTanh -> "RNN_TANH"
        | RnnRelu -> "RNN_RELU"
        | Lstm -> "LSTM"
        | Gru -> "GRU"

    /// The kind of a mode name (case-insensitive; `rnn` means RNN_TANH).
    static member Parse(name: string) : CellKind =
        match CellKind.TryParse name with
        | Some k -> k
        | None -> invalidArg "name" (sprintf "unknown cell kind '%s'; expected one of RNN_TANH, RNN_RELU, LSTM, GRU" name)

    /// The kind of a mode name, if it names a built-in cell.
    static member TryParse(name: string) : CellKind option =
        match (if isNull name then "" else name.Trim().ToUpperInvariant()) with
        | "RNN" | "RNN_TANH" | "TANH" -> Some RnnTanh
        | "RNN_RELU" | "RELU" -> Some RnnRelu
        | "LSTM" -> Some Lstm
        | "GRU" -> Some Gru
        | _ -> None

/// A built-in cell as PyTorch's constructor arguments say it: the mode, and `bias` (PyTorch's `bias=False` drops
/// `bias_ih` and `bias_hh` from the layout and the bias adds from the equations, and changes nothing else). Both
/// variants carry the mode's name, as PyTorch does; their parameters tell them apart.
type BuiltInCell =
    { /// The mode: the equations and the gate blocks.
      Kind: CellKind
      /// Whether the cell has the biases b_ih and b_hh (PyTorch's default, `bias=True`).
      Bias: bool }

/// The parameters of one built-in cell (one layer in one direction) in PyTorch's layout: `WeightIh` is
/// (gates·hidden, input), `WeightHh` (gates·hidden, hidden), both biases (gates·hidden); gate blocks are
/// stacked in the cell's gate order.
type CellParams =
    { WeightIh: Tensor
      WeightHh: Tensor
      BiasIh: Tensor
      BiasHh: Tensor }

/// The built-in cells' parameter layout, and conversions to and from named tensors.
[<RequireQualifiedAccess>]
module CellParams =

    /// Hidden size of a cell (rows of W_hh divided by the gate count are checked elsewhere).
    let hiddenSize (p: CellParams) : int = p.WeightHh.Shape.[1]

    /// PyTorch's parameters of a cell with `gates` blocks, in its order: `weight_ih`, `weight_hh` and, when
    /// `bias`, `bias_ih` and `bias_hh`; each initialised uniform in (−1/√hidden, 1/√hidden).
    let layoutWith (bias: bool) (gates: int) : CellParameter list =
        // Checked: a hostile size must fail, not wrap around to a small positive row count.
        let rows hidden = Checked.(*) gates hidden
        let weight name columns = { Name = name; Shape = (fun input hidden -> [| rows hidden; columns input hidden |]); Init = Initializer.Recurrent }
        let vector name = { Name = name; Shape = (fun _ hidden -> [| rows hidden |]); Init = Initializer.Recurrent }
        [ weight "weight_ih" (fun input _ -> input)
          weight "weight_hh" (fun _ hidden -> hidden)
          if bias then
              vector "bias_ih"
              vector "bias_hh" ]

    /// PyTorch's four parameters of a cell with `gates` blocks (biases included), in its order.
    let layout (gates: int) : CellParameter list = layoutWith true gates

    /// The record of named tensors holding `weight_ih`, `weight_hh`, `bias_ih` and `bias_hh`.
    let ofNamed (p: NamedTensors) : CellParams =
        { WeightIh = p.["weight_ih"]; WeightHh = p.["weight_hh"]; BiasIh = p.["bias_ih"]; BiasHh = p.["bias_hh"] }

    /// The named tensors of a record, in PyTorch's order.
    let toNamed (p: CellParams) : NamedTensors =
        NamedTensors [| "weight_ih", p.WeightIh; "weight_hh", p.WeightHh; "bias_ih", p.BiasIh; "bias_hh", p.BiasHh |]

    /// PyTorch's default initialisation, every entry uniform in (−1/√hidden, 1/√hidden), from a seed. Each of
    /// the four tensors draws from its own seed derived from `seed`.
    let init (kind: CellKind) (inputSize: int) (hiddenSize: int) (seed: int) : CellParams =
        ofNamed (Cell.initParameters kind.Name (layout kind.Gates) inputSize hiddenSize seed)
