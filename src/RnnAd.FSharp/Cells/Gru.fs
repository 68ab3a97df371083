namespace RnnAd.FSharp

open RnnAd

/// The GRU cell exactly as PyTorch: the reset gate scales W_hn·h + b_hn *after* the product (Chung et al.
/// apply it before), and z weighs the old state.
[<RequireQualifiedAccess>]
module Gru =

    /// One step from h to h'.
    let step (p: CellParams) (h: Tensor) (x: Tensor) : Tensor =
        let xi = (Nn.linear p.WeightIh p.BiasIh x).Chunk(3, 1) // W_ir·x + b_ir, W_iz·x + b_iz, W_in·x + b_in
        let hh = (Nn.linear p.WeightHh p.BiasHh h).Chunk(3, 1) // W_hr·h + b_hr, W_hz·h + b_hz, W_hn·h + b_hn
        let r = Nn.sigmoid (xi.[0] + hh.[0]) // reset gate
        let z = Nn.sigmoid (xi.[1] + hh.[1]) // update gate
        let n = tanh (xi.[2] + r * hh.[2]) // candidate state
        (1.0 - z) * n + z * h
