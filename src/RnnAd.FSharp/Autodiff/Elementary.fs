namespace RnnAd.FSharp

open RnnAd
open RnnAd.FSharp.Storage

/// Element-wise functions beyond those F#'s built-in functions reach (`exp x`, `sin x`, … call Tensor's own
/// static members): ln(1 + a) and eᵃ − 1 accurate for tiny a, the error function, 1/a, a² and the sign.
[<AutoOpen>]
module TensorElementary =

    /// 2/√π
    [<Literal>]
    let private TwoOverSqrtPi = 1.1283791670955126

    type Tensor with

        /// ln(1 + a), accurate also for tiny a: ∂f = da/(1 + a).
        [<CompiledName("Log1p")>]
        member a.Log1p() : Tensor =
            Op.unary Elementwise.log1p (fun a _ da -> da / (1.0 + a)) (fun a _ g -> g / (1.0 + a)) a

        /// eᵃ − 1, accurate also for tiny a: ∂f = eᵃ·da = (f + 1)·da.
        [<CompiledName("Expm1")>]
        member a.Expm1() : Tensor =
            Op.unary Elementwise.expm1 (fun _ f da -> da * (f + 1.0)) (fun _ f g -> g * (f + 1.0)) a

        /// The error function erf a = (2/√π)·∫₀ᵃ e^(−t²) dt: ∂f = (2/√π)·e^(−a²)·da.
        [<CompiledName("Erf")>]
        member a.Erf() : Tensor =
            let slope (a: Tensor) = TwoOverSqrtPi * exp (-(a * a))
            Op.unary Elementwise.erf (fun a _ da -> da * slope a) (fun a _ g -> g * slope a) a

        /// 1/a: ∂f = −f²·da.
        [<CompiledName("Reciprocal")>]
        member a.Reciprocal() : Tensor =
            Op.unary Elementwise.reciprocal (fun _ f da -> -(da * (f * f))) (fun _ f g -> -(g * (f * f))) a

        /// a²: ∂f = 2a·da.
        [<CompiledName("Square")>]
        member a.Square() : Tensor =
            Op.unary Elementwise.square (fun a _ da -> da * (2.0 * a)) (fun a _ g -> g * (2.0 * a)) a

        /// The sign of a (−1, 0 or 1; NaN stays NaN), a constant: its derivative is 0 everywhere (as PyTorch's).
        [<CompiledName("Sign")>]
        member a.Sign() : Tensor = Op.constantOf Elementwise.sign a
