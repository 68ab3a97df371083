namespace RnnAd.FSharp.Reference

open MathNet.Numerics.LinearAlgebra
open RnnAd.FSharp

/// One cell's parameters as MathNet matrices, in PyTorch's layout: W_ih (gates·H, I), W_hh (gates·H, H),
/// b_ih and b_hh (gates·H), gate blocks stacked in the cell's order.
type internal DenseCell =
    { Wih: Matrix<float>
      Whh: Matrix<float>
      Bih: Vector<float>
      Bhh: Vector<float> }

/// The state a cell carries: h (batch, H), and c (batch, H) for an LSTM (a zero matrix, unused, otherwise).
type internal DenseState = { H: Matrix<float>; C: Matrix<float> }

/// What a cell's backward step hands back to the layer, so the layer can finish the chain rule the same
/// way for every kind: the gradients of the two pre-activations a_ih = x·W_ihᵀ + b_ih and
/// a_hh = h·W_hhᵀ + b_hh, plus the parts of ∂L/∂h and ∂L/∂c that reach the previous state directly
/// (not through W_hh).
type internal StepGradients =
    { /// ∂L/∂a_ih (batch, gates·H).
      DPreIh: Matrix<float>
      /// ∂L/∂a_hh (batch, gates·H); equal to DPreIh except for the GRU's candidate block.
      DPreHh: Matrix<float>
      /// ∂L/∂h_{t−1} not through W_hh (the GRU's z ⊙ h term); zeros for RNN and LSTM.
      DHDirect: Matrix<float>
      /// ∂L/∂c_{t−1} (LSTM); zeros otherwise.
      DC: Matrix<float> }

/// Conversions of cell parameters.
[<RequireQualifiedAccess>]
module internal DenseCell =

    /// The cell's parameters read from named tensors under PyTorch's names with `suffix` (`_l0`, `_l1_reverse`).
    let ofNamed (ps: NamedTensors) (suffix: string) : DenseCell =
        let matrix name = Dense.ofTensor ("rnn." + name + suffix) ps.["rnn." + name + suffix]
        let vector name = Dense.vectorOfTensor ("rnn." + name + suffix) ps.["rnn." + name + suffix]
        { Wih = matrix "weight_ih"; Whh = matrix "weight_hh"; Bih = vector "bias_ih"; Bhh = vector "bias_hh" }

    /// The pre-activations a_ih = x·W_ihᵀ + b_ih and a_hh = h·W_hhᵀ + b_hh (both (batch, gates·H)).
    let preActivations (p: DenseCell) (h: Matrix<float>) (x: Matrix<float>) : Matrix<float> * Matrix<float> =
        Dense.addRow p.Bih (x.TransposeAndMultiply p.Wih), Dense.addRow p.Bhh (h.TransposeAndMultiply p.Whh)
