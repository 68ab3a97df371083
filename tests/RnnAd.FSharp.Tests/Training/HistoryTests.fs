module RnnAd.FSharp.Tests.Training.HistoryTests

open System
open System.Text.Json
open Expecto
open RnnAd.FSharp

let private figures (loss: float) : Metrics =
    { Loss = loss; Accuracy = 0.75; Perplexity = exp loss; BitsPerCharacter = loss / log 2.0
      Precision = [| 1.0; nan |]; Recall = [| 0.5; 0.0 |]; F1 = [| 2.0 / 3.0; nan |]; Support = [| 2.0; 1.0 |]
      MacroPrecision = 0.5; MacroRecall = 0.25; MacroF1 = 1.0 / 3.0; Confusion = Some(array2D [ [ 1L; 1L ]; [ 1L; 0L ] ])
      Rmse = nan; Mae = nan; R2 = nan; Count = 3.0 }

let private epoch (i: int) (validation: Metrics option) : EpochReport =
    { Epoch = i; TrainLoss = 1.5; Training = Some(figures 1.25); Validation = validation; Seconds = 0.5; Steps = 3; Complete = true
      LearningRate = 0.01; IsBest = (i = 0) }

[<Tests>]
let tests =
    testList "Training/history" [
        test "CSV: one row per epoch, the figures that apply, invariant numbers, empty cells where an epoch lacks one" {
            let csv = History.toCsv [ epoch 0 (Some(figures 1.0)); { epoch 1 None with Complete = false } ]
            let lines = csv.TrimEnd('\n').Split('\n')
            Expect.equal lines.[0]
                ("epoch,steps,complete,seconds,learning_rate,mean_batch_loss,train_loss,train_accuracy,train_perplexity,train_bits_per_character,"
                 + "train_macro_precision,train_macro_recall,train_macro_f1,val_loss,val_accuracy,val_perplexity,val_bits_per_character,"
                 + "val_macro_precision,val_macro_recall,val_macro_f1,best")
                "regression columns are left out: no epoch reports them"
            let first = lines.[1].Split(',')
            Expect.equal first.[0..6] [| "0"; "3"; "true"; "0.5"; "0.01"; "1.5"; "1.25" |] "scalars"
            Expect.equal first.[13] "1" "validation loss"
            Expect.equal first.[first.Length - 1] "true" "best"
            let second = lines.[2].Split(',')
            Expect.equal second.[2] "false" "partial epoch"
            Expect.equal second.[13 .. 19] (Array.create 7 "") "no validation"
        }
        test "JSON: every figure, null where it does not apply, per-class arrays and the confusion matrix" {
            use doc = JsonDocument.Parse(History.toJson [ epoch 0 (Some(figures 1.0)) ])
            let e = doc.RootElement.[0]
            Expect.equal (e.GetProperty("epoch").GetInt32()) 0 "epoch"
            Expect.isTrue (e.GetProperty("best").GetBoolean()) "best"
            let v = e.GetProperty "validation"
            Expect.equal (v.GetProperty("loss").GetDouble()) 1.0 "loss"
            Expect.equal (v.GetProperty("rmse").ValueKind) JsonValueKind.Null "no RMSE"
            Expect.equal (v.GetProperty("precision").[1].ValueKind) JsonValueKind.Null "undefined precision"
            Expect.equal (v.GetProperty("confusion").[1].[0].GetInt64()) 1L "confusion [1, 0]"
            Expect.equal (e.GetProperty("train").GetProperty("loss").GetDouble()) 1.25 "training figures"
        }
    ]
