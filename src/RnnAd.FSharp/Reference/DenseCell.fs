namespace RnnAd.FSharp.Reference

open MathNet.Numerics.LinearAlgebra
open RnnAd.FSharp

/// One cell's parameters as MathNet matrices, in PyTorch's layout: W_ih (gates·H, I), W_hh (gates·H, H),
/// b_ih and b_hh (gates·H; absent in a bias-free cell), gate blocks stacked in the cell's order.
type internal DenseCell =
    { Wih: Matrix<float>
      Whh: Matrix<float>
      Bih: Vector<float> option
      Bhh: Vector<float> option }

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

    /// The cell's parameters read from named tensors under PyTorch's names with `suffix` (`_l0`, `_l1_reverse`),
    /// the biases only when the cell has them.
    let ofNamed (bias: bool) (ps: NamedTensors) (suffix: string) : DenseCell =
        let matrix name = Dense.ofTensor ("rnn." + name + suffix) ps.["rnn." + name + suffix]
        let vector name = if bias then Some(Dense.vectorOfTensor ("rnn." + name + suffix) ps.["rnn." + name + suffix]) else None
        { Wih = matrix "weight_ih"; Whh = matrix "weight_hh"; Bih = vector "bias_ih"; Bhh = vector "bias_hh" }

    /// The pre-activations a_ih = x·W_ihᵀ + b_ih and a_hh = h·W_hhᵀ + b_hh (both (batch, gates·H); without
    /// the biases in a bias-free cell).
    let preActivations (p: DenseCell) (h: Matrix<float>) (x: Matrix<float>) : Matrix<float> * Matrix<float> =
        let plus (bias: Vector<float> option) (m: Matrix<float>) = match bias with Some b -> Dense.addRow b m | None -> m
        plus p.Bih (x.TransposeAndMultiply p.Wih), plus p.Bhh (h.TransposeAndMultiply p.Whh)
