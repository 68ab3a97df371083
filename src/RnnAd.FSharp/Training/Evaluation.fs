namespace RnnAd.FSharp

open System
open RnnAd
open RnnAd.FSharp.Storage

/// Evaluation of a model without differentiation.
[<RequireQualifiedAccess>]
module Evaluation =

    /// Metrics of a model over batches (dropout off, zero initial states). Targets are checked against the
    /// model (a class outside its outputs, a value of the wrong shape) before anything is counted.
    let metrics (model: Model) (ps: NamedTensors) (batches: Minibatch seq) : Metrics =
        if isNull (box batches) then nullArg "batches"
        let acc = MetricsAccumulator model.Loss
        for batch in batches do
            if batch.Targets.IsNone then invalidArg "batches" "a batch has no targets; evaluation compares outputs with targets"
            let outputs, _ = model.Forward ps RunOptions.Default batch
            let weights = Model.positionWeights model.Head batch
            let loss = (Loss.compute model.Loss weights batch.Targets outputs).ToScalar()
            acc.Add(loss, outputs.Value, batch.Targets, weights)
        acc.Result()

    /// The model's outputs for a batch without differentiation: class scores or values, (batch, time,
    /// outputs) or (batch, outputs).
    let outputs (model: Model) (ps: NamedTensors) (batch: Minibatch) : RawTensor =
        (fst (model.Forward ps RunOptions.Default { batch with Targets = Targets.None })).Value

    /// The most likely class at every position: (batch·time) for per-step heads, (batch) for per-sequence ones.
    let predict (model: Model) (ps: NamedTensors) (batch: Minibatch) : int[] =
        fst (Reductions.argmaxDim -1 false (outputs model ps batch))
