module RnnAd.FSharp.Tests.Training.MetricsTests

open System
open RnnAd
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Storage
open RnnAd.FSharp.Tests

// Figures counted by hand on small batches. Ratios of small counts are exact up to one rounding, hence 1e-15.

/// Scores that make `predicted` the argmax of each row of `classes` columns.
let private scoresFor (classes: int) (predicted: int[]) =
    RawTensor.ofArray [| predicted.Length; classes |] [| for p in predicted do for c in 0 .. classes - 1 -> if c = p then 1.0 else 0.0 |]

let private classification (targets: int[]) (predicted: int[]) (weights: float[] option) =
    let acc = MetricsAccumulator(Loss.crossEntropy)
    acc.Add(0.5, scoresFor 3 predicted, Targets.Classes targets, weights)
    acc.Result()

[<Tests>]
let tests =
    testList "Training/metrics" [
        test "a classifier's precision, recall, F1 and confusion matrix, per class and macro-averaged" {
            // targets   0 0 0 1 1 2 ; predicted 0 0 1 1 2 2.
            // class 0: TP 2, FP 0, FN 1 → P 1, R 2/3, F1 0.8; class 1: TP 1, FP 1, FN 1 → ½, ½, ½; class 2: TP 1, FP 1, FN 0 → ½, 1, ⅔.
            let m = classification [| 0; 0; 0; 1; 1; 2 |] [| 0; 0; 1; 1; 2; 2 |] None
            Check.close "precision" 1e-15 0.0 [| 1.0; 0.5; 0.5 |] m.Precision
            Check.close "recall" 1e-15 0.0 [| 2.0 / 3.0; 0.5; 1.0 |] m.Recall
            Check.close "F1" 1e-15 0.0 [| 0.8; 0.5; 2.0 / 3.0 |] m.F1
            Check.close "support" 0.0 0.0 [| 3.0; 2.0; 1.0 |] m.Support
            Check.close "macro" 1e-15 0.0 [| 2.0 / 3.0; (2.0 / 3.0 + 0.5 + 1.0) / 3.0; (0.8 + 0.5 + 2.0 / 3.0) / 3.0 |] [| m.MacroPrecision; m.MacroRecall; m.MacroF1 |]
            Expect.equal m.Confusion (Some(array2D [ [ 2L; 1L; 0L ]; [ 0L; 1L; 1L ]; [ 0L; 0L; 1L ] ])) "[target, predicted]"
            Expect.equal m.Accuracy (4.0 / 6.0) "accuracy"
            Expect.isTrue (Double.IsNaN m.Rmse && Double.IsNaN m.R2) "no regression figures"
        }
        test "padded positions count nowhere; a class never predicted has no precision and counts 0 in the macro average" {
            // The last two positions are padding (their targets may be anything, even out of range).
            let m = classification [| 0; 1; 1; 7; 7 |] [| 0; 0; 0; 2; 2 |] (Some [| 1.0; 1.0; 1.0; 0.0; 0.0 |])
            Expect.equal m.Count 3.0 "three counted"
            Expect.isTrue (Double.IsNaN m.Precision.[1]) "class 1 is never predicted"
            Expect.equal m.Recall.[1] 0.0 "class 1's targets are all missed"
            // Classes seen: 0 (target and prediction) and 1 (target); class 2 never appears, so it is not averaged.
            Expect.equal m.MacroPrecision ((1.0 / 3.0 + 0.0) / 2.0) "P₀ = ⅓, P₁ counts 0"
            Expect.equal m.Confusion (Some(array2D [ [ 1L; 0L; 0L ]; [ 2L; 0L; 0L ]; [ 0L; 0L; 0L ] ])) "padding left out"
        }
        test "a language model's bits per character are its loss over ln 2, and perplexity its exponential" {
            let m = classification [| 0; 1 |] [| 0; 1 |] None
            Expect.equal m.BitsPerCharacter (0.5 / log 2.0) "bits"
            Expect.equal m.Perplexity (exp 0.5) "perplexity"
        }
        test "regression: RMSE, MAE and R² per column averaged, a constant column scoring 1 or 0" {
            let acc = MetricsAccumulator(Loss.MeanSquaredError)
            // Two columns over three positions: column 0 targets 1 2 3, outputs 1 2 4; column 1 targets 5 5 5, outputs 5 5 5.
            let outputs = RawTensor.ofArray [| 3; 2 |] [| 1.0; 5.0; 2.0; 5.0; 4.0; 5.0 |]
            let targets = Tensor.OfArray([| 3; 2 |], [| 1.0; 5.0; 2.0; 5.0; 3.0; 5.0 |])
            acc.Add(1.0 / 6.0, outputs, Targets.Values targets, None)
            let m = acc.Result()
            Expect.equal m.Rmse (sqrt (1.0 / 6.0)) "one error of 1 among 6 values"
            Expect.equal m.Mae (1.0 / 6.0) "MAE"
            // Column 0: SS_res 1, SS_tot 2 → ½; column 1 is constant and exact → 1.
            Check.close "R²" 1e-15 0.0 [| (0.5 + 1.0) / 2.0 |] [| m.R2 |]
            Expect.isEmpty m.Precision "no per-class figures"
            let miss = MetricsAccumulator(Loss.MeanSquaredError)
            miss.Add(1.0, RawTensor.ofArray [| 2; 1 |] [| 1.0; 1.0 |], Targets.Values(Tensor.OfArray([| 2; 1 |], [| 2.0; 2.0 |])), None)
            Expect.equal (miss.Result()).R2 0.0 "a constant column predicted wrongly scores 0"
        }
        test "R² stays exact when the targets' mean is large next to their spread" {
            // Targets 1e8 + {1, 2, 3}: two running sums of y and y² would lose SS_tot = 2 to cancellation.
            let acc = MetricsAccumulator(Loss.MeanSquaredError)
            let y = [| 1e8 + 1.0; 1e8 + 2.0; 1e8 + 3.0 |]
            acc.Add(0.0, RawTensor.ofArray [| 3; 1 |] [| 1e8 + 1.0; 1e8 + 2.0; 1e8 + 4.0 |], Targets.Values(Tensor.OfArray([| 3; 1 |], y)), None)
            Check.close "R²" 1e-12 0.0 [| 0.5 |] [| (acc.Result()).R2 |]
        }
        test "multi-label: per-label precision and recall of the positive class" {
            let acc = MetricsAccumulator(Loss.BinaryCrossEntropy)
            // Two labels, three positions. Label 0: predicted + + −, targets 1 0 0 → TP 1, FP 1; label 1: predicted − + +, targets 1 1 0.
            let logits = RawTensor.ofArray [| 3; 2 |] [| 2.0; -1.0; 3.0; 1.0; -2.0; 0.5 |]
            acc.Add(0.3, logits, Targets.Values(Tensor.OfArray([| 3; 2 |], [| 1.0; 1.0; 0.0; 1.0; 0.0; 0.0 |])), None)
            let m = acc.Result()
            Check.close "precision" 1e-15 0.0 [| 0.5; 0.5 |] m.Precision
            Check.close "recall" 1e-15 0.0 [| 1.0; 0.5 |] m.Recall
            Expect.equal m.Accuracy (3.0 / 6.0) "labels on the right side of ½"
            Expect.isNone m.Confusion "no confusion matrix for labels"
        }
        test "the confusion matrix is left out above 256 classes; per-class figures stay" {
            let acc = MetricsAccumulator(Loss.crossEntropy)
            acc.Add(1.0, scoresFor 300 [| 299; 0 |], Targets.Classes [| 299; 1 |], None)
            let m = acc.Result()
            Expect.isNone m.Confusion "300² counts are not kept"
            Expect.equal m.Precision.Length 300 "per class"
        }
        test "Evaluation.metrics is the accumulator over the model's outputs; which figures apply to which loss" {
            Expect.isTrue (Metrics.appliesTo Loss.crossEntropy Metric.BitsPerCharacter) "bits for cross-entropy"
            Expect.isFalse (Metrics.appliesTo Loss.MeanSquaredError Metric.Accuracy) "no accuracy for MSE"
            Expect.isTrue (Metrics.appliesTo Loss.BinaryCrossEntropy Metric.MacroF1) "F1 per label"
            Expect.isFalse (Metrics.appliesTo Loss.BinaryCrossEntropy Metric.Perplexity) "no perplexity of labels"
            Expect.isTrue (Metrics.higherIsBetter Metric.R2 && not (Metrics.higherIsBetter Metric.BitsPerCharacter)) "directions"
            Check.throwsWith [ "no position" ] (fun () -> MetricsAccumulator(Loss.crossEntropy).Result())
        }
    ]
