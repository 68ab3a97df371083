namespace RnnAd.FSharp

open RnnAd
open RnnAd.FSharp.Storage

/// Gradient clipping, as PyTorch's `clip_grad_norm_` and `clip_grad_value_`, as pure functions.
[<RequireQualifiedAccess>]
module Clipping =

    /// The Euclidean norm of all gradients together.
    let globalNorm (grads: NamedTensors) : float =
        let mutable acc = 0.0
        for t in grads.Tensors do
            for v in t.Value.AsSpan() do
                acc <- acc + v * v
        sqrt acc

    /// Scales all gradients by maxNorm / (norm + 1e-6) when their global norm exceeds maxNorm (PyTorch's
    /// rule, the 1e-6 guarding the division). Returns the clipped gradients and the norm before clipping.
    let byGlobalNorm (maxNorm: float) (grads: NamedTensors) : NamedTensors * float =
        if not (maxNorm > 0.0) then invalidArg "maxNorm" (sprintf "the maximum norm must be positive, got %g" maxNorm)
        let norm = globalNorm grads
        let coef = maxNorm / (norm + 1e-6)
        if coef < 1.0 then NamedTensors.map (fun _ g -> g * coef) grads, norm else grads, norm

    /// Clamps every gradient entry into [−limit, limit].
    let byValue (limit: float) (grads: NamedTensors) : NamedTensors =
        if not (limit > 0.0) then invalidArg "limit" (sprintf "the clipping value must be positive, got %g" limit)
        NamedTensors.map (fun _ g -> Tensor.Constant(Elementwise.clamp -limit limit g.Value)) grads
