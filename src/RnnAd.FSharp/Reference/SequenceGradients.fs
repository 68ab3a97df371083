namespace RnnAd.FSharp.Reference

open RnnAd.FSharp

/// A loss and its derivatives for one batch, in the layout both the AD side and the hand-derived BPTT give.
type SequenceGradients =
    { /// The mean cross-entropy of the batch.
      Loss: float
      /// ∂L/∂θ under the parameters' own names and shapes, in their order.
      Parameters: NamedTensors
      /// ∂L/∂h_t of every layer and direction, named `h_l0`, `h_l0_reverse`, `h_l1`, … (PyTorch's h_n order),
      /// each (batch, time, hidden) with time in the sequence's own order for both directions. h_t is the
      /// state after step t (after padding carried it), so this is the gradient flow over time.
      Hidden: NamedTensors }

/// Names shared by the AD and BPTT sides.
[<RequireQualifiedAccess>]
module SequenceGradients =

    /// The name of ∂L/∂h_t of a layer and direction: `h_l0`, `h_l0_reverse`, ….
    let hiddenName (layer: int) (direction: int) : string = "h" + Recurrent.suffix layer direction
