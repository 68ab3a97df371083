namespace RnnAd.FSharp.Reference

open RnnAd
open RnnAd.FSharp

/// The AD side of a gradient check: the engine's gradient of `SequenceModel.loss`, and ∂L/∂h_t through
/// probes (zero tensors added to every h; the gradient with respect to probe t is ∂L/∂h_t).
[<RequireQualifiedAccess>]
module AdGradients =

    /// Loss, parameter gradients and ∂L/∂h_t by reverse-mode AD, in the same layout as `Bptt.run`. `options`
    /// is passed to `SequenceModel.loss` (truncation, initial states, dropout) except `Probes`, which this
    /// function supplies itself and so must be None. Adding zero probes changes no value: the loss and the
    /// parameter gradients are those of the plain `Ad.Named.grad` of the loss.
    let run (spec: ModelSpec) (ps: NamedTensors) (options: RunOptions) (batch: Minibatch) : SequenceGradients =
        if isNull (box ps) then nullArg "ps"
        if options.Probes.IsSome then invalidArg "options" "AdGradients.run supplies its own probes; pass Probes = None"
        SequenceModel.check spec ps
        SequenceModel.checkBatch spec batch
        let directions = if spec.Bidirectional then 2 else 1
        let names = [| for l in 0 .. spec.Layers - 1 do for d in 0 .. directions - 1 -> SequenceGradients.hiddenName l d |]
        for n in names do
            if ps.Contains n then invalidArg "ps" (sprintf "the parameter name '%s' is reserved for the probe of ∂L/∂h" n)
        // One (batch, time, hidden) probe per layer and direction; step t adds its slice t.
        let probes = names |> Array.map (fun n -> n, Tensor.Zeros [| batch.Batch; batch.Time; spec.HiddenSize |])
        let loss (all: NamedTensors) =
            let steps = names |> Array.map (fun n -> let p = all.[n] in Array.init batch.Time (fun t -> p.Select(1, t)))
            fst (SequenceModel.loss spec all { options with Probes = Some steps } batch)
        let value, grads = Ad.Named.valueAndGrad loss (NamedTensors(Array.append ps.Entries probes))
        let entries = grads.Entries
        { Loss = value.ToScalar()
          Parameters = NamedTensors entries.[.. ps.Count - 1]
          Hidden = NamedTensors entries.[ps.Count ..] }
