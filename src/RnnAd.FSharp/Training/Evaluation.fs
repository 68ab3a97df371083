namespace RnnAd.FSharp

open RnnAd.FSharp.Storage

/// Quality of a model on a set of batches.
type Metrics =
    { /// Mean cross-entropy per counted position (padding excluded).
      Loss: float
      /// Fraction of counted positions whose highest score is the target.
      Accuracy: float
      /// exp(Loss): the language-model perplexity.
      Perplexity: float
      /// Number of positions counted (steps for PerStep heads, sequences for LastStep).
      Count: float }

/// Evaluation of a model without differentiation.
[<RequireQualifiedAccess>]
module Evaluation =

    /// Metrics of a model over batches (dropout off, zero initial states).
    let metrics (spec: ModelSpec) (ps: NamedTensors) (batches: SequenceBatch seq) : Metrics =
        let mutable lossSum = 0.0
        let mutable correct = 0.0
        let mutable count = 0.0
        for batch in batches do
            let logits, _ = SequenceModel.forward spec ps RunOptions.Default batch
            let classes = logits.Shape.[logits.Rank - 1]
            let flat = Layout.reshape [| -1; classes |] logits.Value
            let logProbs = Elementwise.sub flat (Reductions.logSumExpDim 1 true flat)
            let predicted, _ = Reductions.argmaxDim 1 false flat
            let weights =
                match spec.Head, batch.Mask with
                | HeadKind.PerStep, Some m -> m
                | _ -> Array.create batch.Targets.Length 1.0
            let lp = logProbs.AsSpan()
            for i in 0 .. batch.Targets.Length - 1 do
                let w = weights.[i]
                if w <> 0.0 then
                    lossSum <- lossSum - w * lp.[i * classes + batch.Targets.[i]]
                    if predicted.[i] = batch.Targets.[i] then correct <- correct + w
                    count <- count + w
        if count = 0.0 then invalidArg "batches" "no position to evaluate: the batches are empty or fully padded"
        let loss = lossSum / count
        { Loss = loss; Accuracy = correct / count; Perplexity = exp loss; Count = count }

    /// The most likely class at every position: (batch·time) for PerStep heads, (batch) for LastStep.
    let predict (spec: ModelSpec) (ps: NamedTensors) (batch: SequenceBatch) : int[] =
        let logits, _ = SequenceModel.forward spec ps RunOptions.Default batch
        fst (Reductions.argmaxDim -1 false (Layout.reshape [| -1; logits.Shape.[logits.Rank - 1] |] logits.Value))
