namespace RnnAd.FSharp

open RnnAd

/// The Elman RNN cell. Inputs are (batch, input), states (batch, hidden).
[<RequireQualifiedAccess>]
module Rnn =

    /// The step from its two affine parts, a_ih = x·W_ihᵀ + b_ih and a_hh = h·W_hhᵀ + b_hh (a bias-free cell
    /// has no b_ih, b_hh): h' = act(a_ih + a_hh).
    let update (activation: Tensor -> Tensor) (aIh: Tensor) (aHh: Tensor) : Tensor = activation (aIh + aHh)

    /// One step: h' = act(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh).
    let step (activation: Tensor -> Tensor) (p: CellParams) (h: Tensor) (x: Tensor) : Tensor =
        update activation (Nn.linear p.WeightIh p.BiasIh x) (Nn.linear p.WeightHh p.BiasHh h)
