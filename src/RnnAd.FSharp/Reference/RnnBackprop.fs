namespace RnnAd.FSharp.Reference

open MathNet.Numerics.LinearAlgebra

/// The Elman RNN step and its hand-derived backward step.
///   forward:  a = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh,   h' = act(a),   act = tanh or relu
[<RequireQualifiedAccess>]
module internal RnnBackprop =

    /// What the backward step needs from the forward step.
    type Cache = { Pre: Matrix<float>; HNext: Matrix<float> }

    /// h' = act(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh).
    let forward (relu: bool) (p: DenseCell) (h: Matrix<float>) (x: Matrix<float>) : Cache =
        let aIh, aHh = DenseCell.preActivations p h x
        let pre = aIh + aHh
        { Pre = pre; HNext = Dense.map (if relu then Dense.relu else Dense.tanh) pre }

    /// From ∂L/∂h' to the pre-activation gradients.
    let backward (relu: bool) (cache: Cache) (dHNext: Matrix<float>) : StepGradients =
        // h' = tanh(a)  ⇒  ∂L/∂a = ∂L/∂h' ⊙ (1 − h'²)
        // h' = relu(a)  ⇒  ∂L/∂a = ∂L/∂h' ⊙ [a > 0]
        let slope = if relu then Dense.map Dense.reluSlope cache.Pre else Dense.map (fun h -> 1.0 - h * h) cache.HNext
        let dPre = Dense.hadamard dHNext slope
        // a = a_ih + a_hh  ⇒  ∂L/∂a_ih = ∂L/∂a_hh = ∂L/∂a; h reaches a only through W_hh.
        { DPreIh = dPre; DPreHh = dPre; DHDirect = Dense.zeros dPre.RowCount cache.HNext.ColumnCount; DC = Dense.zeros dPre.RowCount cache.HNext.ColumnCount }
