namespace RnnAd.FSharp

open RnnAd
open RnnAd.FSharp.Storage

/// Element-wise activations beyond F#'s built-in functions, with PyTorch's definitions and its derivative at
/// each kink. Where a derivative is 0 on a region it is selected (`Tensor.Where`), never a
/// product with a 0/1 mask: an infinite adjoint there then gives 0, as in PyTorch, and not NaN.
[<AutoOpen>]
module TensorActivations =

    /// 1/√2
    [<Literal>]
    let private Sqrt1_2 = 0.7071067811865476

    /// 1/√(2π)
    [<Literal>]
    let private InvSqrt2Pi = 0.3989422804014327

    type Tensor with

        /// σ(a) = 1 / (1 + e⁻ᵃ): ∂f = f·(1 − f)·da.
        [<CompiledName("Sigmoid")>]
        member a.Sigmoid() : Tensor =
            Op.unary Elementwise.sigmoid
                (fun _ f da -> da * (f * (1.0 - f)))
                (fun _ f g -> g * (f * (1.0 - f)))
                a

        /// max(a, 0): ∂f = [a > 0]·da (0 at the kink, as PyTorch).
        [<CompiledName("Relu")>]
        member a.Relu() : Tensor =
            Op.unary Elementwise.relu
                (fun a _ da -> Op.keepWhere (Elementwise.positiveMask a.Value) da)
                (fun a _ g -> Op.keepWhere (Elementwise.positiveMask a.Value) g)
                a

        /// a clamped into [low, high]: ∂f = [low ≤ a ≤ high]·da.
        [<CompiledName("Clamp")>]
        member a.Clamp(low: float, high: float) : Tensor =
            if not (low <= high) then
                Shape.fail "clamp" (sprintf "low must not exceed high, got [%g, %g]" low high)
            Op.unary (Elementwise.clamp low high)
                (fun a _ da -> Op.keepWhere (Elementwise.insideMask low high a.Value) da)
                (fun a _ g -> Op.keepWhere (Elementwise.insideMask low high a.Value) g)
                a

        /// a for a > 0, slope·a otherwise (PyTorch's leaky_relu): ∂f = da for a > 0, slope·da otherwise (so
        /// slope at the kink, as PyTorch).
        [<CompiledName("LeakyRelu")>]
        member a.LeakyRelu(slope: float) : Tensor =
            let rule (a: Tensor) (d: Tensor) = Tensor.Where(Elementwise.positiveMask a.Value, d, d * slope)
            Op.unary (Elementwise.leakyRelu slope) (fun a _ da -> rule a da) (fun a _ g -> rule a g) a

        /// a for a > 0, α·(eᵃ − 1) otherwise (PyTorch's elu): ∂f = da for a > 0, α·eᵃ·da otherwise (so α at
        /// the kink, as PyTorch).
        [<CompiledName("Elu")>]
        member a.Elu(alpha: float) : Tensor =
            let rule (a: Tensor) (d: Tensor) = Tensor.Where(Elementwise.positiveMask a.Value, d, d * (alpha * exp a))
            Op.unary (Elementwise.elu alpha) (fun a _ da -> rule a da) (fun a _ g -> rule a g) a

        /// ln(1 + eᵃ), and a itself above 20 (PyTorch's softplus, β = 1, threshold 20, where the two differ
        /// by 2e-9): ∂f = σ(a)·da, and da above 20.
        [<CompiledName("Softplus")>]
        member a.Softplus() : Tensor =
            let rule (a: Tensor) (d: Tensor) = Tensor.Where(Elementwise.aboveMask 20.0 a.Value, d, d * a.Sigmoid())
            Op.unary Elementwise.softplus (fun a _ da -> rule a da) (fun a _ g -> rule a g) a

        /// SiLU (swish) a·σ(a): ∂f = σ(a)·(1 + a·(1 − σ(a)))·da.
        [<CompiledName("Silu")>]
        member a.Silu() : Tensor =
            let slope (a: Tensor) =
                let s = a.Sigmoid()
                s * (1.0 + a * (1.0 - s))
            Op.unary Elementwise.silu (fun a _ da -> da * slope a) (fun a _ g -> g * slope a) a

        /// GELU in its exact form, PyTorch's default: a·Φ(a) with Φ the standard normal distribution function,
        /// Φ(a) = (1 + erf(a/√2))/2: ∂f = (Φ(a) + a·φ(a))·da with φ(a) = e^(−a²/2)/√(2π). Far in the left
        /// tail the value keeps absolute accuracy only (1 + erf cancels), as PyTorch's.
        [<CompiledName("Gelu")>]
        member a.Gelu() : Tensor =
            let slope (a: Tensor) =
                let cdf = 0.5 * (1.0 + (a * Sqrt1_2).Erf())
                cdf + a * (InvSqrt2Pi * exp (-0.5 * (a * a)))
            Op.unary Elementwise.gelu (fun a _ da -> da * slope a) (fun a _ g -> g * slope a) a
