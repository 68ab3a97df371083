namespace RnnAd.FSharp

open RnnAd
open RnnAd.FSharp.Storage

/// Element-wise activations beyond F#'s built-in functions.
[<AutoOpen>]
module TensorActivations =

    type Tensor with

        /// σ(a) = 1 / (1 + e⁻ᵃ): ∂f = f·(1 − f)·da.
        member a.Sigmoid() : Tensor =
            Op.unary Elementwise.sigmoid
                (fun _ f da -> da * (f * (1.0 - f)))
                (fun _ f g -> g * (f * (1.0 - f)))
                a

        /// max(a, 0): ∂f = [a > 0]·da (0 at the kink, as PyTorch).
        member a.Relu() : Tensor =
            Op.unary Elementwise.relu
                (fun a _ da -> da * Op.constantOf Elementwise.positiveMask a)
                (fun a _ g -> g * Op.constantOf Elementwise.positiveMask a)
                a

        /// a clamped into [low, high]: ∂f = [low ≤ a ≤ high]·da.
        member a.Clamp(low: float, high: float) : Tensor =
            if not (low <= high) then
                Shape.fail "clamp" (sprintf "low must not exceed high, got [%g, %g]" low high)
            Op.unary (Elementwise.clamp low high)
                (fun a _ da -> da * Op.constantOf (Elementwise.insideMask low high) a)
                (fun a _ g -> g * Op.constantOf (Elementwise.insideMask low high) a)
                a
