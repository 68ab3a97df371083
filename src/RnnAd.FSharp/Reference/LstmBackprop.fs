namespace RnnAd.FSharp.Reference

open MathNet.Numerics.LinearAlgebra

/// The LSTM step (PyTorch's gate order i, f, g, o) and its hand-derived backward step.
///   forward:  [a_i | a_f | a_g | a_o] = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh
///             i = σ(a_i),  f = σ(a_f),  g = tanh(a_g),  o = σ(a_o)
///             c' = f ⊙ c + i ⊙ g,   h' = o ⊙ tanh(c')
[<RequireQualifiedAccess>]
module internal LstmBackprop =

    /// What the backward step needs from the forward step.
    type Cache =
        { I: Matrix<float>
          F: Matrix<float>
          G: Matrix<float>
          O: Matrix<float>
          C: Matrix<float>
          TanhCNext: Matrix<float>
          HNext: Matrix<float>
          CNext: Matrix<float> }

    /// One step from (h, c).
    let forward (p: DenseCell) (h: Matrix<float>) (c: Matrix<float>) (x: Matrix<float>) : Cache =
        let hidden = h.ColumnCount
        let aIh, aHh = DenseCell.preActivations p h x
        let a = aIh + aHh
        let block k = Dense.columns (k * hidden) hidden a
        let i = Dense.map Dense.sigmoid (block 0)
        let f = Dense.map Dense.sigmoid (block 1)
        let g = Dense.map Dense.tanh (block 2)
        let o = Dense.map Dense.sigmoid (block 3)
        let cNext = Dense.hadamard f c + Dense.hadamard i g
        let tanhC = Dense.map Dense.tanh cNext
        { I = i; F = f; G = g; O = o; C = c; TanhCNext = tanhC; HNext = Dense.hadamard o tanhC; CNext = cNext }

    /// From ∂L/∂h' and ∂L/∂c' (what later steps send back through the cell state) to the pre-activation
    /// gradients and ∂L/∂c.
    let backward (cache: Cache) (dHNext: Matrix<float>) (dCNext: Matrix<float>) : StepGradients =
        let one (m: Matrix<float>) = Dense.map (fun v -> 1.0 - v) m
        // h' = o ⊙ tanh(c')  ⇒  ∂L/∂o = ∂L/∂h' ⊙ tanh(c')
        let dO = Dense.hadamard dHNext cache.TanhCNext
        // h' = o ⊙ tanh(c')  ⇒  ∂L/∂c' += ∂L/∂h' ⊙ o ⊙ (1 − tanh²(c'))
        let dC' = dCNext + Dense.hadamard (Dense.hadamard dHNext cache.O) (Dense.map (fun t -> 1.0 - t * t) cache.TanhCNext)
        // c' = f ⊙ c + i ⊙ g  ⇒  ∂L/∂f = ∂L/∂c' ⊙ c,  ∂L/∂c = ∂L/∂c' ⊙ f,  ∂L/∂i = ∂L/∂c' ⊙ g,  ∂L/∂g = ∂L/∂c' ⊙ i
        let dF = Dense.hadamard dC' cache.C
        let dC = Dense.hadamard dC' cache.F
        let dI = Dense.hadamard dC' cache.G
        let dG = Dense.hadamard dC' cache.I
        // i = σ(a_i)  ⇒  ∂L/∂a_i = ∂L/∂i ⊙ i ⊙ (1 − i); likewise f and o;  g = tanh(a_g)  ⇒  ∂L/∂a_g = ∂L/∂g ⊙ (1 − g²)
        let dAi = Dense.hadamard dI (Dense.hadamard cache.I (one cache.I))
        let dAf = Dense.hadamard dF (Dense.hadamard cache.F (one cache.F))
        let dAg = Dense.hadamard dG (Dense.map (fun g -> 1.0 - g * g) cache.G)
        let dAo = Dense.hadamard dO (Dense.hadamard cache.O (one cache.O))
        let dPre = Dense.concatColumns [| dAi; dAf; dAg; dAo |]
        // a = a_ih + a_hh  ⇒  both receive ∂L/∂a; h reaches a only through W_hh.
        { DPreIh = dPre; DPreHh = dPre; DHDirect = Dense.zeros dHNext.RowCount dHNext.ColumnCount; DC = dC }
