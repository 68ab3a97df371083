module RnnAd.FSharp.Tests.Cli.ValidationTests

open System
open System.Globalization
open System.IO
open System.Threading
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Tests

// `rnnad train --validation-split / --early-stopping / --max-steps / --history`, `rnnad evaluate`, and Ctrl+C keeping the
// work, on tiny texts whose windows and batches can be counted by hand.

let private rnnad = CliSupport.rnnad
let private lines = CliSupport.lines

/// 72 characters of "abcd" then 28 of "dcba": the held-out end (28 %) reverses what training teaches, so its loss rises
/// once the model has learnt the letters' frequencies, and early stopping has a best epoch to keep.
let private reversing = String.replicate 18 "abcd" + String.replicate 7 "dcba"

let private train (folder: string) (text: string) (extra: string list) =
    let file = Path.Combine(folder, "text.txt")
    File.WriteAllText(file, text)
    let model = Path.Combine(folder, "model.safetensors")
    let run =
        rnnad ([ "train"; "--text"; file; "--hidden"; "8"; "--embedding"; "3"; "--window"; "9"; "--stride"; "9"; "--batch-size"; "4"; "--output"; model ]
               @ (if List.contains "--sample-length" extra then [] else [ "--sample-length"; "0" ]) @ extra)
    run, model, file

/// The number after `name` in an epoch line ("val loss 1.2345").
let private figure (name: string) (line: string) =
    let at = line.IndexOf(name + " ", StringComparison.Ordinal) + name.Length + 1
    Double.Parse(line.Substring(at).Split(' ').[0], CultureInfo.InvariantCulture)

[<Tests>]
let tests =
    testList "Cli/validation" [
        test "--validation-split reports the held-out loss and bits per character, keeps the best epoch and writes the history" {
            TempFolder.run (fun folder ->
                let run, model, _ = train folder CliSupport.abcd [ "--epochs"; "3"; "--validation-split"; "0.3"; "--history"; Path.Combine(folder, "h.csv") ]
                CliSupport.expectSuccess run "train with validation"
                // 70 characters to train on: (70 − 10) / 9 + 1 = 7 windows; 30 held out: (30 − 10) / 9 + 1 = 3 windows of 9.
                Expect.stringContains run.Out "the last 30 characters (--validation-split 0.3): 3 windows of 9" "the header"
                let epochs = lines run.Out |> Array.filter (fun l -> l.StartsWith "epoch ")
                Expect.equal epochs.Length 3 "a line per epoch"
                for l in epochs do
                    Expect.isTrue (abs (figure "val bpc" l - figure "val loss" l / log 2.0) < 1e-3) (sprintf "bits are the loss / ln 2 (to the 3 decimals shown): %s" l)
                Expect.isTrue (File.Exists(Path.Combine(folder, "model.best.safetensors"))) "the best epoch beside the checkpoint"
                let history = File.ReadAllLines(Path.Combine(folder, "h.csv"))
                Expect.equal history.Length 4 "a header and three epochs"
                Expect.stringContains history.[0] "val_bits_per_character" "validation columns"
                let _, state = TrainingCheckpoint.load model
                Expect.equal state.StepsDone 6L "7 windows in batches of 4: 2 steps an epoch")
        }
        test "--early-stopping ends the run Patience epochs after the lowest validation loss and samples from that epoch" {
            TempFolder.run (fun folder ->
                let run, model, _ = train folder reversing [ "--epochs"; "60"; "--validation-split"; "0.28"; "--early-stopping"; "2"; "--sample-length"; "5" ]
                CliSupport.expectSuccess run "early stopping"
                let epochs = lines run.Out |> Array.filter (fun l -> l.StartsWith "epoch ")
                Expect.isLessThan epochs.Length 60 "stopped before the last epoch"
                let losses = epochs |> Array.map (figure "val loss")
                let best = Array.findIndex ((=) (Array.min losses)) losses
                Expect.equal epochs.Length (best + 1 + 2) "two epochs after the best"
                Expect.stringContains epochs.[best] "(best)" "the best epoch is marked"
                Expect.stringContains run.Out (sprintf "stopped early: the validation loss has not fallen for 2 epochs since epoch %d" (best + 1)) "the reason"
                Expect.stringContains run.Out (sprintf "from the best epoch (%d); rnnad sample --model %s" (best + 1) (Path.Combine(folder, "model.best.safetensors"))) "the sample's model"
                let _, saved = TrainingCheckpoint.load (Path.Combine(folder, "model.best.safetensors"))
                Expect.equal saved.Epoch (best + 1) "the best checkpoint holds the best epoch"
                Expect.equal (snd (TrainingCheckpoint.load model)).Epoch epochs.Length "the checkpoint holds the last")
        }
        test "--early-stopping needs --validation-split; a split must leave each part a window" {
            TempFolder.run (fun folder ->
                CliSupport.expectError 2 [ "--early-stopping"; "--validation-split" ] (let r, _, _ = train folder CliSupport.abcd [ "--early-stopping"; "2" ] in r) "no split"
                CliSupport.expectError 2 [ "--validation-split 0.95"; "5 to train on and 95 to validate on" ] (let r, _, _ = train folder CliSupport.abcd [ "--validation-split"; "0.95" ] in r) "too large"
                CliSupport.expectError 2 [ "--validation-split must be a fraction" ] (let r, _, _ = train folder CliSupport.abcd [ "--validation-split"; "1" ] in r) "not a fraction")
        }
        test "the best checkpoint's place is checked before training, as --output's" {
            TempFolder.run (fun folder ->
                Directory.CreateDirectory(Path.Combine(folder, "model.best.safetensors")) |> ignore
                let run, _, _ = train folder CliSupport.abcd [ "--validation-split"; "0.3" ]
                CliSupport.expectError 1 [ "the best checkpoint"; "model.best.safetensors"; "directory" ] run "a directory in the way"
                Expect.equal run.Out "" "refused before training")
        }
        test "--max-steps stops within an epoch and says so" {
            TempFolder.run (fun folder ->
                // 100 characters: 11 windows of 9, 3 batches an epoch; 4 steps end one batch into epoch 2.
                let run, model, _ = train folder CliSupport.abcd [ "--epochs"; "5"; "--max-steps"; "4" ]
                CliSupport.expectSuccess run "max steps"
                let epochs = lines run.Out |> Array.filter (fun l -> l.StartsWith "epoch ")
                Expect.equal epochs.Length 2 "two epoch lines"
                Expect.stringContains epochs.[1] "(1 of its batches)" "the partial epoch"
                Expect.stringContains run.Out "stopped after --max-steps 4 batches" "the reason"
                Expect.equal (snd (TrainingCheckpoint.load model)).StepsDone 4L "four steps saved")
        }
        test "--resume refuses another --validation-split or --early-stopping, naming it" {
            TempFolder.run (fun folder ->
                let first, model, text = train folder CliSupport.abcd [ "--epochs"; "1"; "--validation-split"; "0.3" ]
                CliSupport.expectSuccess first "first epoch"
                let resume extra = rnnad ([ "train"; "--text"; text; "--window"; "9"; "--stride"; "9"; "--batch-size"; "4"; "--sample-length"; "0"; "--output"; model; "--epochs"; "2"; "--resume" ] @ extra)
                CliSupport.expectError 1 [ "--validation-split 0.2 (the run used 0.3)" ] (resume [ "--validation-split"; "0.2" ]) "another split"
                CliSupport.expectError 1 [ "--early-stopping 3 (the run used nothing)" ] (resume [ "--validation-split"; "0.3"; "--early-stopping"; "3" ]) "early stopping added"
                CliSupport.expectSuccess (resume [ "--validation-split"; "0.3" ]) "the same split")
        }
        test "evaluate scores a checkpoint on a text in windows of its training length" {
            TempFolder.run (fun folder ->
                let trained, model, text = train folder CliSupport.abcd [ "--epochs"; "2" ]
                CliSupport.expectSuccess trained "train"
                let run = rnnad [ "evaluate"; "--model"; model; "--text"; text ]
                CliSupport.expectSuccess run "evaluate"
                // 100 characters in windows of 9 (the --window it was trained with): (100 − 10) / 9 + 1 = 11 windows, 99 predictions.
                Expect.stringContains run.Out "100 characters in 11 windows of 9" "the windows"
                Expect.stringContains run.Out "(99 characters predicted)" "the predictions"
                let line = lines run.Out |> Array.find (fun l -> l.StartsWith "loss ")
                Expect.isTrue (abs (figure "character" line - figure "loss" line / log 2.0) < 1e-3) (sprintf "bits per character = loss / ln 2: %s" line)
                let other = Path.Combine(folder, "other.txt")
                File.WriteAllText(other, "abcdabcdabxd")
                CliSupport.expectError 1 [ "\"x\" at position 10"; "not in the model's vocabulary" ] (rnnad [ "evaluate"; "--model"; model; "--text"; other ]) "unknown character"
                CliSupport.expectError 2 [ "--window 40 is too long" ] (rnnad [ "evaluate"; "--model"; model; "--text"; other; "--window"; "40" ]) "window")
        }
        test "Ctrl+C saves the state of the last completed batch before stopping" {
            TempFolder.run (fun folder ->
                let text = Path.Combine(folder, "abcd.txt")
                File.WriteAllText(text, CliSupport.abcd)
                let model = Path.Combine(folder, "model.safetensors")
                use cts = new CancellationTokenSource()
                use out = new TriggerWriter("epoch 1/5", cts.Cancel)
                let run =
                    CliSupport.runCancellable cts.Token out
                        [ "train"; "--text"; text; "--hidden"; "4"; "--embedding"; "2"; "--window"; "9"; "--stride"; "9"; "--batch-size"; "4"
                          "--epochs"; "5"; "--sample-length"; "0"; "--output"; model ]
                CliSupport.expectError 130 [ "interrupted"; "after update 3"; "--resume" ] run "Ctrl+C after epoch 1"
                Expect.equal (snd (TrainingCheckpoint.load model)).StepsDone 3L "epoch 1's three batches saved")
        }
    ]
