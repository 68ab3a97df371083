namespace RnnAd.FSharp

open RnnAd
open RnnAd.FSharp.Storage

/// The recurrent cells RnnAd provides, with PyTorch's equations.
[<RequireQualifiedAccess>]
type CellKind =
    /// Elman RNN with tanh: h' = tanh(W_ih x + b_ih + W_hh h + b_hh).
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
        match (if isNull name then "" else name.Trim().ToUpperInvariant()) with
        | "RNN" | "RNN_TANH" | "TANH" -> RnnTanh
        | "RNN_RELU" | "RELU" -> RnnRelu
        | "LSTM" -> Lstm
        | "GRU" -> Gru
        | _ -> invalidArg "name" (sprintf "unknown cell kind '%s'; expected one of RNN_TANH, RNN_RELU, LSTM, GRU" name)

/// The parameters of one cell (one layer in one direction) in PyTorch's layout: `WeightIh` is
/// (gates·hidden, input), `WeightHh` (gates·hidden, hidden), both biases (gates·hidden); gate blocks are
/// stacked in the cell's gate order.
type CellParams =
    { WeightIh: Tensor
      WeightHh: Tensor
      BiasIh: Tensor
      BiasHh: Tensor }

/// Creation and inspection of cell parameters.
[<RequireQualifiedAccess>]
module CellParams =

    /// Hidden size of a cell (rows of W_hh divided by the gate count are checked elsewhere).
    let hiddenSize (p: CellParams) : int = p.WeightHh.Shape.[1]

    /// PyTorch's default initialisation, every entry uniform in (−1/√hidden, 1/√hidden), from a seed. Each of
    /// the four tensors draws from its own seed derived from `seed`.
    let init (kind: CellKind) (inputSize: int) (hiddenSize: int) (seed: int) : CellParams =
        if inputSize <= 0 then invalidArg "inputSize" (sprintf "input size must be positive, got %d" inputSize)
        if hiddenSize <= 0 then invalidArg "hiddenSize" (sprintf "hidden size must be positive, got %d" hiddenSize)
        let bound = 1.0 / sqrt (float hiddenSize)
        let rows = kind.Gates * hiddenSize
        let draw (label: string) (shape: int[]) = Tensor.RandomUniform(Seed.derive seed label, shape, -bound, bound)
        { WeightIh = draw "weight_ih" [| rows; inputSize |]
          WeightHh = draw "weight_hh" [| rows; hiddenSize |]
          BiasIh = draw "bias_ih" [| rows |]
          BiasHh = draw "bias_hh" [| rows |] }
