namespace RnnAd.FSharp

open RnnAd

/// The Elman RNN cell. Inputs are (batch, input), states (batch, hidden).
[<RequireQualifiedAccess>]
module Rnn =

    /// One step: h' = act(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh).
    let step (activation: Tensor -> Tensor) (p: CellParams) (h: Tensor) (x: Tensor) : Tensor =
        activation (Nn.linear p.WeightIh p.BiasIh x + Nn.linear p.WeightHh p.BiasHh h)
