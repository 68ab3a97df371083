namespace RnnAd.FSharp

open System
open RnnAd
open RnnAd.FSharp.Storage

/// Quality of a model on a set of batches. A figure that does not apply to the model's loss is NaN.
type Metrics =
    { /// Mean loss per counted position (padding excluded): the batches' mean losses weighted by the
      /// positions they count.
      Loss: float
      /// Fraction of counted positions whose highest score is the target class (class targets); for a
      /// multi-label model, the fraction of labels whose probability falls on the target's side of ½.
      Accuracy: float
      /// exp(Loss), the language-model perplexity (cross-entropy).
      Perplexity: float
      /// Root of the mean squared difference between outputs and target values (value targets).
      Rmse: float
      /// Mean absolute difference between outputs and target values (value targets).
      Mae: float
      /// Number of positions counted (steps for per-step heads, sequences for per-sequence ones).
      Count: float }

/// Evaluation of a model without differentiation.
[<RequireQualifiedAccess>]
module Evaluation =

    /// Metrics of a model over batches (dropout off, zero initial states). Targets are checked against the
    /// model (a class outside its outputs, a value of the wrong shape) before anything is counted.
    let metrics (model: Model) (ps: NamedTensors) (batches: SequenceBatch seq) : Metrics =
        if isNull (box batches) then nullArg "batches"
        let mutable lossSum = 0.0
        let mutable count = 0.0
        let mutable correct = 0.0
        let mutable squares = 0.0
        let mutable absolutes = 0.0
        let mutable elements = 0.0
        for batch in batches do
            if batch.Targets.IsNone then invalidArg "batches" "a batch has no targets; evaluation compares outputs with targets"
            let outputs, _ = model.Forward ps RunOptions.Default batch
            let weights = Model.positionWeights model.Head batch
            let loss = (Loss.compute model.Loss weights batch.Targets outputs).ToScalar()
            let width = outputs.Shape.[outputs.Rank - 1]
            let positions = outputs.Numel / max 1 width
            let weightOf i = match weights with Some w -> w.[i] | None -> 1.0
            let counted = Seq.sumBy weightOf (seq { 0 .. positions - 1 })
            lossSum <- lossSum + loss * counted
            count <- count + counted
            let o = outputs.Value.AsSpan()
            match batch.Targets with
            | Targets.Classes classes ->
                let predicted, _ = Reductions.argmaxDim -1 false outputs.Value
                for i in 0 .. positions - 1 do
                    if predicted.[i] = classes.[i] then correct <- correct + weightOf i
            | Targets.Values values ->
                let y = values.Value.AsSpan()
                let multiLabel = model.Loss = Loss.BinaryCrossEntropy
                for i in 0 .. o.Length - 1 do
                    let w = weightOf (i / width)
                    if w <> 0.0 then
                        let d = o.[i] - y.[i]
                        squares <- squares + w * d * d
                        absolutes <- absolutes + w * abs d
                        elements <- elements + w
                        // A logit above 0 is a probability above ½.
                        if multiLabel && (o.[i] > 0.0) = (y.[i] > 0.5) then correct <- correct + w
            | Targets.None -> ()
        if count = 0.0 then invalidArg "batches" "no position to evaluate: the batches are empty or fully padded"
        let loss = lossSum / count
        let classes = model.Loss.Targets = TargetKind.Classes
        let multiLabel = model.Loss = Loss.BinaryCrossEntropy
        { Loss = loss
          Accuracy = (if classes then correct / count elif multiLabel then correct / elements else nan)
          Perplexity = (match model.Loss with Loss.CrossEntropy _ -> exp loss | _ -> nan)
          // Distances between logits and 0/1 labels mean nothing: only regressions report them.
          Rmse = (if classes || multiLabel then nan else sqrt (squares / elements))
          Mae = (if classes || multiLabel then nan else absolutes / elements)
          Count = count }

    /// The model's outputs for a batch without differentiation: class scores or values, (batch, time,
    /// outputs) or (batch, outputs).
    let outputs (model: Model) (ps: NamedTensors) (batch: SequenceBatch) : RawTensor =
        (fst (model.Forward ps RunOptions.Default { batch with Targets = Targets.None })).Value

    /// The most likely class at every position: (batch·time) for per-step heads, (batch) for per-sequence ones.
    let predict (model: Model) (ps: NamedTensors) (batch: SequenceBatch) : int[] =
        fst (Reductions.argmaxDim -1 false (outputs model ps batch))
