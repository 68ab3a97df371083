namespace RnnAd.FSharp.Reference

open MathNet.Numerics.LinearAlgebra

/// The GRU step exactly as PyTorch (gate order r, z, n; r scales W_hn·h + b_hn after the product) and its
/// hand-derived backward step.
///   forward:  [x_r | x_z | x_n] = x·W_ihᵀ + b_ih,   [h_r | h_z | h_n] = h·W_hhᵀ + b_hh
///             r = σ(x_r + h_r),  z = σ(x_z + h_z),  n = tanh(x_n + r ⊙ h_n)
///             h' = (1 − z) ⊙ n + z ⊙ h
[<RequireQualifiedAccess>]
module internal GruBackprop =

    /// What the backward step needs from the forward step.
    type Cache =
        { R: Matrix<float>
          Z: Matrix<float>
          N: Matrix<float>
          HhN: Matrix<float>
          H: Matrix<float>
          HNext: Matrix<float> }

    /// One step from h.
    let forward (p: DenseCell) (h: Matrix<float>) (x: Matrix<float>) : Cache =
        let hidden = h.ColumnCount
        let aIh, aHh = DenseCell.preActivations p h x
        let xBlock k = Dense.columns (k * hidden) hidden aIh
        let hBlock k = Dense.columns (k * hidden) hidden aHh
        let r = Dense.map Dense.sigmoid (xBlock 0 + hBlock 0)
        let z = Dense.map Dense.sigmoid (xBlock 1 + hBlock 1)
        let hn = hBlock 2
        let n = Dense.map Dense.tanh (xBlock 2 + Dense.hadamard r hn)
        let hNext = Dense.hadamard (Dense.map (fun v -> 1.0 - v) z) n + Dense.hadamard z h
        { R = r; Z = z; N = n; HhN = hn; H = h; HNext = hNext }

    /// From ∂L/∂h' to the pre-activation gradients and the direct part of ∂L/∂h.
    let backward (cache: Cache) (dHNext: Matrix<float>) : StepGradients =
        // h' = (1 − z) ⊙ n + z ⊙ h  ⇒  ∂L/∂n = ∂L/∂h' ⊙ (1 − z),  ∂L/∂z = ∂L/∂h' ⊙ (h − n),  ∂L/∂h ∋ ∂L/∂h' ⊙ z
        let dN = Dense.hadamard dHNext (Dense.map (fun v -> 1.0 - v) cache.Z)
        let dZ = Dense.hadamard dHNext (cache.H - cache.N)
        let dHDirect = Dense.hadamard dHNext cache.Z
        // n = tanh(x_n + r ⊙ h_n)  ⇒  ∂L/∂x_n = ∂L/∂n ⊙ (1 − n²),  ∂L/∂h_n = ∂L/∂x_n ⊙ r,  ∂L/∂r = ∂L/∂x_n ⊙ h_n
        let dXn = Dense.hadamard dN (Dense.map (fun v -> 1.0 - v * v) cache.N)
        let dHn = Dense.hadamard dXn cache.R
        let dR = Dense.hadamard dXn cache.HhN
        // r = σ(x_r + h_r)  ⇒  ∂L/∂x_r = ∂L/∂h_r = ∂L/∂r ⊙ r ⊙ (1 − r);  likewise z
        let dAr = Dense.hadamard dR (Dense.map (fun v -> v * (1.0 - v)) cache.R)
        let dAz = Dense.hadamard dZ (Dense.map (fun v -> v * (1.0 - v)) cache.Z)
        // [x_r | x_z | x_n] = x·W_ihᵀ + b_ih and [h_r | h_z | h_n] = h·W_hhᵀ + b_hh: the two differ only in the n block.
        { DPreIh = Dense.concatColumns [| dAr; dAz; dXn |]
          DPreHh = Dense.concatColumns [| dAr; dAz; dHn |]
          DHDirect = dHDirect
          DC = Dense.zeros dHNext.RowCount dHNext.ColumnCount }
