namespace RnnAd.FSharp

open System
open RnnAd.FSharp.Storage

/// Quality of a model on a set of positions. A figure that does not apply to the model's loss is NaN (an
/// array that does not apply is empty, a confusion matrix None).
type Metrics =
    { /// Mean loss per counted position (padding excluded): the batches' mean losses weighted by the
      /// positions they count.
      Loss: float
      /// Fraction of counted positions whose highest score is the target class (class targets); for a
      /// multi-label model, the fraction of labels whose probability falls on the target's side of ½.
      Accuracy: float
      /// exp(Loss), the language-model perplexity (cross-entropy).
      Perplexity: float
      /// Loss / ln 2: the cross-entropy in bits per predicted token, bits per character for a character model.
      BitsPerCharacter: float
      /// Per class (per label for a multi-label model): of the positions predicted as the class, the fraction
      /// that are; NaN for a class never predicted.
      Precision: float[]
      /// Per class (label): of the positions whose target is the class, the fraction predicted as it; NaN for a
      /// class that is never a target.
      Recall: float[]
      /// Per class (label): 2·TP / (2·TP + FP + FN), the harmonic mean of precision and recall; NaN for a class
      /// neither predicted nor a target.
      F1: float[]
      /// Per class (label): the counted positions whose target it is.
      Support: float[]
      /// Mean precision over the classes that are a target or a prediction at least once, a never-predicted
      /// class counting 0 (scikit-learn's `average='macro'`).
      MacroPrecision: float
      /// Mean recall over the same classes, a class that is never a target counting 0.
      MacroRecall: float
      /// Mean F1 over the same classes.
      MacroF1: float
      /// Counts of [target, predicted] class pairs, for classifiers of at most `Metrics.confusionLimit` classes.
      Confusion: int64[,] option
      /// Root of the mean squared difference between outputs and target values (value targets).
      Rmse: float
      /// Mean absolute difference between outputs and target values (value targets).
      Mae: float
      /// Coefficient of determination 1 − SS_res / SS_tot per output column, averaged over the columns
      /// (scikit-learn's `r2_score`, uniform average); a column whose targets are constant scores 1 when
      /// predicted exactly and 0 otherwise (scikit-learn's `force_finite`).
      R2: float
      /// Number of positions counted (steps for per-step heads, sequences for per-sequence ones).
      Count: float }

/// The named figures of `Metrics` that training can monitor (early stopping, reduce-on-plateau).
[<RequireQualifiedAccess>]
type Metric =
    | Loss
    | Accuracy
    | Perplexity
    | BitsPerCharacter
    | MacroPrecision
    | MacroRecall
    | MacroF1
    | Rmse
    | Mae
    | R2

/// Reading and naming the figures of `Metrics`.
[<RequireQualifiedAccess>]
module Metrics =

    /// The most classes a confusion matrix is kept for: 256² counts are 512 KB per evaluation, where a word
    /// model's 10,000 classes would need 800 MB.
    [<Literal>]
    let confusionLimit = 256

    /// The value of a named figure.
    let value (metric: Metric) (m: Metrics) : float =
        match metric with
        | Metric.Loss -> m.Loss
        | Metric.Accuracy -> m.Accuracy
        | Metric.Perplexity -> m.Perplexity
        | Metric.BitsPerCharacter -> m.BitsPerCharacter
        | Metric.MacroPrecision -> m.MacroPrecision
        | Metric.MacroRecall -> m.MacroRecall
        | Metric.MacroF1 -> m.MacroF1
        | Metric.Rmse -> m.Rmse
        | Metric.Mae -> m.Mae
        | Metric.R2 -> m.R2

    /// Whether a larger value of the figure is better (accuracy, precision, recall, F1, R²) or a smaller one
    /// (losses and errors).
    let higherIsBetter (metric: Metric) : bool =
        match metric with
        | Metric.Accuracy
        | Metric.MacroPrecision
        | Metric.MacroRecall
        | Metric.MacroF1
        | Metric.R2 -> true
        | Metric.Loss
        | Metric.Perplexity
        | Metric.BitsPerCharacter
        | Metric.Rmse
        | Metric.Mae -> false

    /// The figure's name in histories and messages (`loss`, `accuracy`, `perplexity`, `bits_per_character`,
    /// `macro_precision`, `macro_recall`, `macro_f1`, `rmse`, `mae`, `r2`).
    let name (metric: Metric) : string =
        match metric with
        | Metric.Loss -> "loss"
        | Metric.Accuracy -> "accuracy"
        | Metric.Perplexity -> "perplexity"
        | Metric.BitsPerCharacter -> "bits_per_character"
        | Metric.MacroPrecision -> "macro_precision"
        | Metric.MacroRecall -> "macro_recall"
        | Metric.MacroF1 -> "macro_f1"
        | Metric.Rmse -> "rmse"
        | Metric.Mae -> "mae"
        | Metric.R2 -> "r2"

    /// Every figure training can monitor, in the order histories list them.
    let all: Metric list =
        [ Metric.Loss; Metric.Accuracy; Metric.Perplexity; Metric.BitsPerCharacter; Metric.MacroPrecision
          Metric.MacroRecall; Metric.MacroF1; Metric.Rmse; Metric.Mae; Metric.R2 ]

    /// Whether the figure has a value for a model scored by `loss` (accuracy needs class or multi-label
    /// targets, perplexity the cross-entropy, RMSE real values, …).
    let appliesTo (loss: Loss) (metric: Metric) : bool =
        let classes = loss.Targets = TargetKind.Classes
        let multiLabel = loss = Loss.BinaryCrossEntropy
        let crossEntropy = match loss with Loss.CrossEntropy _ -> true | _ -> false
        match metric with
        | Metric.Loss -> true
        | Metric.Accuracy
        | Metric.MacroPrecision
        | Metric.MacroRecall
        | Metric.MacroF1 -> classes || multiLabel
        | Metric.Perplexity
        | Metric.BitsPerCharacter -> crossEntropy
        | Metric.Rmse
        | Metric.Mae
        | Metric.R2 -> not classes && not multiLabel

/// Accumulates the figures of `Metrics` batch by batch, without keeping the outputs: the evaluation of a
/// model and the training loop's running figures share it.
type MetricsAccumulator(loss: Loss) =
    let classes = loss.Targets = TargetKind.Classes
    let multiLabel = loss = Loss.BinaryCrossEntropy
    let mutable lossSum = 0.0
    let mutable count = 0.0
    let mutable correct = 0.0
    let mutable squares = 0.0
    let mutable absolutes = 0.0
    let mutable elements = 0.0
    // Per class (label): true positives, predictions, targets.
    let mutable truePositives: float[] = [||]
    let mutable predicted: float[] = [||]
    let mutable actual: float[] = [||]
    let mutable confusion: int64[,] option = None
    // Per output column, Welford's running mean and sum of squared deviations of the targets (R²'s SS_tot, which
    // two running sums would lose to cancellation when the mean is large next to the spread), and SS_res.
    let mutable columnCount: float[] = [||]
    let mutable columnMean: float[] = [||]
    let mutable columnDeviations: float[] = [||]
    let mutable columnResiduals: float[] = [||]

    let ensureWidth (width: int) =
        if truePositives.Length = 0 then
            truePositives <- Array.zeroCreate width
            predicted <- Array.zeroCreate width
            actual <- Array.zeroCreate width
            columnCount <- Array.zeroCreate width
            columnMean <- Array.zeroCreate width
            columnDeviations <- Array.zeroCreate width
            columnResiduals <- Array.zeroCreate width
            if classes && width <= Metrics.confusionLimit then confusion <- Some(Array2D.zeroCreate width width)
        elif truePositives.Length <> width then
            invalidArg "outputs" (sprintf "the outputs have %d columns, earlier batches had %d" width truePositives.Length)

    /// Positions counted so far.
    member _.Count = count

    /// Adds a batch: its mean loss over the counted positions, the model's outputs for it ((batch, time, width)
    /// or (batch, width)), its targets and the weight of each position (1 counted, 0 padding; None: all count).
    member _.Add(meanLoss: float, outputs: RawTensor, targets: Targets, weights: float[] option) : unit =
        let width = outputs.Shape.[outputs.Rank - 1]
        let positions = outputs.Numel / max 1 width
        ensureWidth width
        let weightOf i = match weights with Some w -> w.[i] | None -> 1.0
        let mutable counted = 0.0
        for i in 0 .. positions - 1 do
            counted <- counted + weightOf i
        lossSum <- lossSum + meanLoss * counted
        count <- count + counted
        let o = outputs.AsSpan()
        match targets with
        | Targets.Classes targetClasses ->
            let best, _ = Reductions.argmaxDim -1 false outputs
            for i in 0 .. positions - 1 do
                let w = weightOf i
                if w <> 0.0 then
                    let y, p = targetClasses.[i], best.[i]
                    actual.[y] <- actual.[y] + w
                    predicted.[p] <- predicted.[p] + w
                    if p = y then
                        correct <- correct + w
                        truePositives.[y] <- truePositives.[y] + w
                    match confusion with
                    | Some m -> m.[y, p] <- m.[y, p] + int64 w
                    | None -> ()
        | Targets.Values values ->
            let y = values.Value.AsSpan()
            for i in 0 .. o.Length - 1 do
                let w = weightOf (i / width)
                if w <> 0.0 then
                    let d = o.[i] - y.[i]
                    let column = i % width
                    squares <- squares + w * d * d
                    absolutes <- absolutes + w * abs d
                    elements <- elements + w
                    columnCount.[column] <- columnCount.[column] + w
                    let delta = y.[i] - columnMean.[column]
                    columnMean.[column] <- columnMean.[column] + w * delta / columnCount.[column]
                    columnDeviations.[column] <- columnDeviations.[column] + w * delta * (y.[i] - columnMean.[column])
                    columnResiduals.[column] <- columnResiduals.[column] + w * d * d
                    if multiLabel then
                        // A logit above 0 is a probability above ½: a positive prediction of the label.
                        let positive, target = o.[i] > 0.0, y.[i] > 0.5
                        if positive = target then correct <- correct + w
                        if positive then predicted.[column] <- predicted.[column] + w
                        if target then actual.[column] <- actual.[column] + w
                        if positive && target then truePositives.[column] <- truePositives.[column] + w
        | Targets.None -> invalidArg "targets" "a batch has no targets; metrics compare outputs with targets"

    /// The figures of every batch added so far; raises when no position was counted.
    member _.Result() : Metrics =
        if count = 0.0 then invalidArg "batches" "no position to evaluate: the batches are empty or fully padded"
        let meanLoss = lossSum / count
        let perClass = classes || multiLabel
        let ratio (a: float) (b: float) = if b > 0.0 then a / b else nan
        let precision = if perClass then Array.map2 ratio truePositives predicted else [||]
        let recall = if perClass then Array.map2 ratio truePositives actual else [||]
        let f1 =
            if perClass then Array.init truePositives.Length (fun c -> ratio (2.0 * truePositives.[c]) (predicted.[c] + actual.[c])) else [||]
        // scikit-learn's macro average: the classes seen as a target or a prediction, an undefined ratio as 0.
        let macro (values: float[]) =
            let seen = [| for c in 0 .. values.Length - 1 do if predicted.[c] + actual.[c] > 0.0 then (if Double.IsNaN values.[c] then 0.0 else values.[c]) |]
            if perClass && seen.Length > 0 then Array.average seen else nan
        let regression = not classes && not multiLabel
        let r2 =
            if not regression then nan
            else
                Array.init columnCount.Length (fun c ->
                    if columnDeviations.[c] > 0.0 then 1.0 - columnResiduals.[c] / columnDeviations.[c]
                    elif columnResiduals.[c] = 0.0 then 1.0
                    else 0.0)
                |> Array.average
        let crossEntropy = match loss with Loss.CrossEntropy _ -> true | _ -> false
        { Loss = meanLoss
          Accuracy = (if classes then correct / count elif multiLabel then correct / elements else nan)
          Perplexity = (if crossEntropy then exp meanLoss else nan)
          BitsPerCharacter = (if crossEntropy then meanLoss / log 2.0 else nan)
          Precision = precision
          Recall = recall
          F1 = f1
          Support = (if perClass then Array.copy actual else [||])
          MacroPrecision = macro precision
          MacroRecall = macro recall
          MacroF1 = macro f1
          Confusion = confusion |> Option.map Array2D.copy
          // Distances between logits and 0/1 labels mean nothing: only regressions report them.
          Rmse = (if regression then sqrt (squares / elements) else nan)
          Mae = (if regression then absolutes / elements else nan)
          R2 = r2
          Count = count }
