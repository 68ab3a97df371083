namespace RnnAd.FSharp

open RnnAd

/// The GRU cell exactly as PyTorch: the reset gate scales W_hn·h + b_hn *after* the product (Chung et al.
/// apply it before), and z weighs the old state.
[<RequireQualifiedAccess>]
module Gru =

    /// The step from its two affine parts, a_ih = x·W_ihᵀ + b_ih and a_hh = h·W_hhᵀ + b_hh (a bias-free cell
    /// has no b_ih, b_hh, so n = tanh(W_in·x + r ⊙ (W_hn·h)) as in PyTorch's `bias=False`), and h itself.
    let update (aIh: Tensor) (aHh: Tensor) (h: Tensor) : Tensor =
        let xi = aIh.Chunk(3, 1) // W_ir·x + b_ir, W_iz·x + b_iz, W_in·x + b_in
        let hh = aHh.Chunk(3, 1) // W_hr·h + b_hr, W_hz·h + b_hz, W_hn·h + b_hn
        let r = Nn.sigmoid (xi.[0] + hh.[0]) // reset gate
        let z = Nn.sigmoid (xi.[1] + hh.[1]) // update gate
        let n = tanh (xi.[2] + r * hh.[2]) // candidate state
        (1.0 - z) * n + z * h

    /// One step from h to h'.
    let step (p: CellParams) (h: Tensor) (x: Tensor) : Tensor =
        update (Nn.linear p.WeightIh p.BiasIh x) (Nn.linear p.WeightHh p.BiasHh h) h
