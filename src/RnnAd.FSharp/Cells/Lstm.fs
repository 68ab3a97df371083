namespace RnnAd.FSharp

open RnnAd

/// The LSTM cell (Hochreiter & Schmidhuber, with a forget gate), PyTorch's gate order i, f, g, o.
[<RequireQualifiedAccess>]
module Lstm =

    /// The step from its two affine parts, a_ih = x·W_ihᵀ + b_ih and a_hh = h·W_hhᵀ + b_hh (a bias-free cell
    /// has no b_ih, b_hh), and the cell state c: (h', c').
    let update (aIh: Tensor) (aHh: Tensor) (c: Tensor) : Tensor * Tensor =
        let gates = (aIh + aHh).Chunk(4, 1)
        let i = Nn.sigmoid gates.[0] // input gate: how much of the candidate to write
        let f = Nn.sigmoid gates.[1] // forget gate: how much of the old cell to keep
        let g = tanh gates.[2] // candidate cell values
        let o = Nn.sigmoid gates.[3] // output gate: how much of the cell to show
        let c' = f * c + i * g
        o * tanh c', c'

    /// One step from (h, c) to (h', c').
    let step (p: CellParams) (h: Tensor, c: Tensor) (x: Tensor) : Tensor * Tensor =
        update (Nn.linear p.WeightIh p.BiasIh x) (Nn.linear p.WeightHh p.BiasHh h) c
