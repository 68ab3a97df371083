namespace RnnAd.FSharp.Reference

open RnnAd
open RnnAd.FSharp

/// Finite-difference gradients: the independent witness when AD and the hand-derived BPTT are compared.
[<RequireQualifiedAccess>]
module FiniteDifferences =

    /// The step for a value θ: 1e-6·max(1, |θ|). In float64 a centred difference has truncation error
    /// O(h²·f''') ≈ 1e-12 and rounding error O(ε·|f|/h) ≈ 1e-10 for losses of order 1; this h balances the two.
    let step (theta: float) : float = 1e-6 * max 1.0 (abs theta)

    /// ∂loss/∂θ for every entry of every named tensor by centred differences (f(θ+h) − f(θ−h)) / (2h), with
    /// 2h taken as the difference of the two perturbed values actually represented. Costs two evaluations of
    /// `loss` per entry.
    let gradient (loss: NamedTensors -> float) (ps: NamedTensors) : NamedTensors =
        if isNull (box loss) then nullArg "loss"
        if isNull (box ps) then nullArg "ps"
        let entries = ps.Entries
        NamedTensors(entries |> Array.mapi (fun k (name, t) ->
            let x = t.ToArray()
            let at (i: int) (v: float) =
                let moved = Array.copy x
                moved.[i] <- v
                loss (NamedTensors(Array.updateAt k (name, Tensor.OfArray(t.Shape, moved)) entries))
            name,
            Tensor.OfArray(t.Shape, Array.init x.Length (fun i ->
                let h = step x.[i]
                let up, down = x.[i] + h, x.[i] - h
                (at i up - at i down) / (up - down)))))

    /// Finite differences of a model's loss (`SequenceModel.loss` on the AD engine's forward pass, the model's
    /// definition). Truncation does not change the loss, so this is always the full gradient.
    let ofModel (spec: ModelSpec) (ps: NamedTensors) (options: RunOptions) (batch: Minibatch) : NamedTensors =
        gradient (fun p -> (fst (SequenceModel.loss spec p options batch)).ToScalar()) ps
