module RnnAd.FSharp.Tests.Cli.CliTests

open System
open System.Diagnostics
open System.IO
open System.Threading
open Expecto
open Spectre.Console
open RnnAd.FSharp
open RnnAd.FSharp.Storage
open RnnAd.Cli
open RnnAd.FSharp.Tests

let private rnnad = CliSupport.rnnad
let private lines = CliSupport.lines
let private expectSuccess = CliSupport.expectSuccess

/// The eight bytes every PNG file starts with (PNG specification, section 5.2).
let private pngSignature = [| 0x89uy; 0x50uy; 0x4Euy; 0x47uy; 0x0Duy; 0x0Auy; 0x1Auy; 0x0Auy |]

let private abcd = CliSupport.abcd

let private trainAbcd = CliSupport.trainAbcd

[<Tests>]
let train =
    testList "Cli/train" [
        test "tiny settings write a checkpoint, a PNG loss curve and a sample, one plain line per epoch" {
            TempFolder.run (fun folder ->
                let run, model = trainAbcd folder [ "--epochs"; "2"; "--cell"; "gru" ]
                expectSuccess run "train"
                let loaded, state = TrainingCheckpoint.load model
                Expect.equal loaded.Spec.Cell Cells.gru "--cell gru"
                Expect.equal loaded.Spec.HiddenSize 8 "--hidden 8"
                Expect.equal loaded.Spec.Input (InputEncoding.Embedding(4, 3)) "four letters, --embedding 3"
                Expect.equal (loaded.Vocabulary |> Option.map Array.sort) (Some [| "a"; "b"; "c"; "d" |]) "the text's characters"
                Expect.equal (state.Epoch, state.Batch, state.StepsDone) (2, 0, 6L) "2 epochs of 3 batches"
                let curve = Path.Combine(folder, "model.loss.png")
                let bytes = File.ReadAllBytes curve
                Expect.equal bytes.[0..7] pngSignature "the loss curve is a PNG next to the checkpoint"
                Expect.isEmpty (Directory.GetFiles(folder, "*.tmp")) "no temporary file is left behind"
                let out = lines run.Out
                Expect.equal (out |> Array.filter (fun l -> l.StartsWith "epoch ") |> Array.map (fun l -> l.Substring(0, 9))) [| "epoch 1/2"; "epoch 2/2" |] "a line per epoch"
                Expect.exists out (fun l -> l.Contains "matmul" && l.Contains(Gemm.describe ())) "the header names the GEMM provider"
                Expect.isFalse (run.Out.Contains "\u001b[") "plain output holds no ANSI escape codes"
                // The sample line: the prompt and 12 generated letters. The prompt is the text's first word, cut
                // at 16 characters; this text has no space, so it is "abcdabcdabcdabcd".
                let sample = out.[out.Length - 1].Trim()
                Expect.equal sample.Length (16 + 12) "the prompt and --sample-length characters"
                Expect.isTrue (sample.StartsWith "abcdabcdabcdabcd") "the prompt comes first"
                Expect.isTrue (sample |> Seq.forall (fun c -> "abcd".Contains c)) (sprintf "the sample '%s' uses the text's letters" sample))
        }

        test "with no --text it learns the embedded passage" {
            TempFolder.run (fun folder ->
                let model = Path.Combine(folder, "alice.safetensors")
                // One batch: windows of 64 every 64 characters of about 2.6 KB are fewer than 64.
                let run =
                    rnnad [ "train"; "--epochs"; "1"; "--hidden"; "4"; "--embedding"; "2"; "--window"; "64"; "--stride"; "64"
                            "--batch-size"; "64"; "--sample-length"; "0"; "--output"; model ]
                expectSuccess run "train on the default text"
                Expect.stringContains run.Out "Alice's Adventures in Wonderland" "the header names the text"
                let loaded = Checkpoint.load model
                let vocabulary = defaultArg loaded.Vocabulary [||]
                for c in [ "A"; "l"; "i"; "c"; "e"; " " ] do
                    Expect.contains vocabulary c "the vocabulary holds the letters of 'Alice '")
        }

        test "resuming after one epoch ends with the parameters of two epochs in one run" {
            TempFolder.run (fun folder ->
                let straight = Path.Combine(folder, "straight")
                let resumed = Path.Combine(folder, "resumed")
                Directory.CreateDirectory straight |> ignore
                Directory.CreateDirectory resumed |> ignore
                let runStraight, modelStraight = trainAbcd straight [ "--epochs"; "2" ]
                expectSuccess runStraight "two epochs"
                let first, modelResumed = trainAbcd resumed [ "--epochs"; "1" ]
                expectSuccess first "first epoch"
                let second = rnnad [ "train"; "--text"; Path.Combine(resumed, "abcd.txt"); "--window"; "9"; "--stride"; "9"; "--batch-size"; "4"
                                     "--sample-length"; "0"; "--output"; modelResumed; "--epochs"; "2"; "--resume" ]
                expectSuccess second "resumed epoch"
                Expect.stringContains second.Out "resuming" "the header says it resumes"
                let a, b = Checkpoint.load modelStraight, Checkpoint.load modelResumed
                for name, t in a.Parameters.Entries do
                    // Randomness derives from (seed, step) and the optimizer state is saved, so bit for bit.
                    Expect.equal (b.Parameters.[name].ToArray()) (t.ToArray()) (sprintf "%s after resuming" name)
                // A resume that changes how the run trains would silently continue another run: refused.
                let changed = rnnad [ "train"; "--text"; Path.Combine(resumed, "abcd.txt"); "--window"; "9"; "--stride"; "9"; "--batch-size"; "2"
                                      "--sample-length"; "0"; "--output"; modelResumed; "--epochs"; "3"; "--resume" ]
                Expect.equal changed.Code 1 "exit code"
                Expect.stringContains changed.Error "--batch-size 2 (the run used 4)" "names the changed option")
        }
    ]

[<Tests>]
let sample =
    testList "Cli/sample" [
        test "sample prints the prompt and --length characters from the model's vocabulary, the same for the same seed" {
            TempFolder.run (fun folder ->
                let trained, model = trainAbcd folder [ "--epochs"; "1" ]
                expectSuccess trained "train"
                let sample seed = rnnad [ "sample"; "--model"; model; "--prompt"; "ab"; "--length"; "37"; "--seed"; string seed; "--top-k"; "3" ]
                let run = sample 5
                expectSuccess run "sample"
                Expect.isTrue (run.Out.EndsWith Environment.NewLine) "the text ends with a newline"
                let text = run.Out.Substring(0, run.Out.Length - Environment.NewLine.Length)
                Expect.equal text.Length (2 + 37) "prompt + length characters, and nothing else on stdout"
                Expect.isTrue (text.StartsWith "ab") "the prompt comes first"
                Expect.isTrue (text |> Seq.forall (fun c -> "abcd".Contains c)) (sprintf "'%s' uses the vocabulary's letters" text)
                Expect.equal (sample 5).Out run.Out "same seed, same text")
        }
    ]

[<Tests>]
let gradcheck =
    testList "Cli/gradcheck" [
        test "a small LSTM passes against BPTT and finite differences and prints both tables" {
            let run = rnnad [ "gradcheck"; "--cell"; "lstm"; "--hidden"; "3"; "--time"; "4"; "--finite-differences" ]
            expectSuccess run "gradcheck"
            for header in [ "AD vs BPTT: PASS"; "AD vs FD: PASS"; "BPTT vs FD: PASS"; "gradient check PASSED" ] do
                Expect.stringContains run.Out header "every comparison passes"
            // PyTorch's names for a one-layer LSTM with a linear head.
            for name in [ "rnn.weight_ih_l0"; "rnn.weight_hh_l0"; "rnn.bias_ih_l0"; "rnn.bias_hh_l0"; "fc.weight"; "fc.bias"; "h_l0" ] do
                Expect.stringContains run.Out name "a row per tensor"
        }

        test "a bidirectional two-layer GRU read at the last step, truncated, passes" {
            let run = rnnad [ "gradcheck"; "--cell"; "gru"; "--layers"; "2"; "--bidirectional"; "--head"; "last-step"; "--time"; "6"; "--bptt"; "2"; "--seed"; "9" ]
            expectSuccess run "gradcheck"
            Expect.stringContains run.Out "h_l1_reverse" "the second layer's backward direction has a row"
            Expect.stringContains run.Out "truncated every 2" "the header says BPTT is truncated"
        }
    ]

[<Tests>]
let commands =
    testList "Cli/seed, info and help" [
        test "seed 000 --quick writes its pictures" {
            TempFolder.run (fun folder ->
                let output = Path.Combine(folder, "pictures")
                let run = rnnad [ "seed"; "0"; "--quick"; "--output"; output ]
                expectSuccess run "seed 000"
                Expect.stringContains run.Out "Seed 000" "the example's report is printed"
                Expect.isNonEmpty (Directory.GetFiles(output, "seed000-*.png")) "pictures in --output")
        }

        test "info names the version, the GEMM provider and the machine" {
            let run = rnnad [ "info" ]
            expectSuccess run "info"
            Expect.stringContains run.Out (Gemm.describe ()) "the provider and why"
            Expect.stringContains run.Out (sprintf "%d cores" Environment.ProcessorCount) "the cores"
        }

        test "--help works for the program and every command" {
            for argv, usage in
                [ [ "--help" ], "USAGE: rnnad "; [ "train"; "--help" ], "USAGE: rnnad train "; [ "sample"; "--help" ], "USAGE: rnnad sample "
                  [ "gradcheck"; "--help" ], "USAGE: rnnad gradcheck "; [ "seed"; "--help" ], "USAGE: rnnad seed "; [ "info"; "--help" ], "USAGE: rnnad info" ] do
                let run = rnnad argv
                expectSuccess run (String.Join(" ", argv))
                Expect.isTrue (run.Out.StartsWith usage) (sprintf "'%s' starts with '%s', got: %s" (String.Join(" ", argv)) usage run.Out)
        }
    ]

[<Tests>]
let errors =
    testList "Cli/errors" [
        test "bad command lines exit non-zero with one line on stderr that names the problem" {
            TempFolder.run (fun folder ->
                let missing = Path.Combine(folder, "missing.safetensors")
                let garbage = Path.Combine(folder, "garbage.safetensors")
                File.WriteAllText(garbage, "not a checkpoint")
                let unavailable =
                    SeedCommand.numbers |> List.filter (fun n -> not (SeedCommand.available |> List.exists (fst >> (=) n)))
                let cases =
                    [ [], 2, "no command"
                      [ "train"; "--hidden"; "0" ], 2, "--hidden"
                      [ "train"; "--hidden"; "many" ], 2, "--hidden"
                      [ "train"; "--cell"; "transformer" ], 2, "--cell"
                      [ "train"; "--dropout"; "1.5" ], 2, "--dropout"
                      [ "train"; "--bogus" ], 2, "--bogus"
                      [ "train"; "--text"; Path.Combine(folder, "missing.txt") ], 1, "missing.txt"
                      [ "train"; "--resume"; "--output"; missing ], 1, "nothing to resume"
                      [ "train"; "--resume"; "--hidden"; "8" ], 2, "--hidden"
                      [ "sample"; "--model"; missing ], 1, "missing.safetensors"
                      [ "sample"; "--model"; garbage ], 1, "garbage.safetensors"
                      [ "sample"; "--temperature"; "-1" ], 2, "--temperature"
                      [ "gradcheck"; "--head"; "middle" ], 2, "--head"
                      [ "gradcheck"; "--finite-differences"; "--bptt"; "2"; "--time"; "5" ], 2, "--bptt"
                      [ "seed"; "7" ], 2, "unknown seed '007'"
                      [ "seed" ], 2, "the seed's number" ]
                    @ [ for n in unavailable -> [ "seed"; n ], 1, sprintf "seed %s is not available in this build" n ]
                for argv, code, fragment in cases do
                    let what = "rnnad " + String.Join(" ", argv)
                    let run = rnnad argv
                    Expect.equal run.Code code (sprintf "%s: exit code" what)
                    Expect.equal run.Out "" (sprintf "%s: nothing on stdout" what)
                    let errorLines = lines run.Error
                    Expect.equal errorLines.Length 1 (sprintf "%s: one line on stderr, got: %s" what run.Error)
                    Expect.stringContains errorLines.[0] fragment (sprintf "%s: the line names the problem" what))
        }
    ]

[<Tests>]
let terminals =
    testList "Cli/terminals" [
        test "on a Spectre console, train and gradcheck draw tables" {
            TempFolder.run (fun folder ->
                use out = new StringWriter()
                use error = new StringWriter()
                let console =
                    AnsiConsole.Create(
                        AnsiConsoleSettings(Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No,
                                            Out = AnsiConsoleOutput out))
                // Wide enough that no table cell wraps, so the rows can be searched for.
                console.Profile.Width <- 240
                let terminal = Terminal.rich console out error
                let text = Path.Combine(folder, "abcd.txt")
                File.WriteAllText(text, abcd)
                let argv = [| "train"; "--text"; text; "--hidden"; "4"; "--embedding"; "2"; "--window"; "9"; "--stride"; "9"; "--epochs"; "2"; "--output"; Path.Combine(folder, "m.safetensors") |]
                Expect.equal (Cli.run terminal CancellationToken.None argv) 0 (sprintf "train on Spectre; stderr: %s" (error.ToString()))
                Expect.equal (Cli.run terminal CancellationToken.None [| "gradcheck"; "--cell"; "rnn-relu" |]) 0 "gradcheck on Spectre"
                let shown = out.ToString()
                Expect.stringContains shown "perplexity" "the epoch table's header"
                Expect.stringContains shown "rnn.weight_hh_l0" "the gradient table's rows"
                Expect.stringContains shown "│" "drawn as Spectre tables")
        }

        test "the rnnad program exits with the code and prints plain lines when its output is redirected" {
            // The program built next to this test suite (the project reference copies it here).
            let program = Path.Combine(AppContext.BaseDirectory, "rnnad.dll")
            let start (args: string) =
                let info = ProcessStartInfo("dotnet", sprintf "\"%s\" %s" program args, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
                use p = Process.Start info
                let out = p.StandardOutput.ReadToEndAsync()
                let error = p.StandardError.ReadToEnd()
                p.WaitForExit()
                p.ExitCode, out.Result, error
            let code, out, _ = start "info"
            Expect.equal code 0 "rnnad info"
            Expect.stringContains out "matmul" "info's lines"
            Expect.isFalse (out.Contains "\u001b[") "no ANSI codes when redirected"
            let code, out, error = start "train --epochs x"
            Expect.equal code 2 "a bad option"
            Expect.equal out "" "nothing on stdout"
            Expect.equal (lines error).Length 1 (sprintf "one line on stderr, got: %s" error)
        }
    ]

/// The repository's root: the first folder above the test suite's that holds RnnAd.sln.
let private repositoryRoot () =
    let rec up (folder: DirectoryInfo) =
        if isNull folder then failtest "RnnAd.sln not found above the test suite's folder"
        elif File.Exists(Path.Combine(folder.FullName, "RnnAd.sln")) then folder.FullName
        else up folder.Parent
    up (DirectoryInfo AppContext.BaseDirectory)

[<Tests>]
let readme =
    testList "Cli/readme" [
        test "examples/RnnAd.Cli/README.md shows every command's current --help" {
            let readme = File.ReadAllText(Path.Combine(repositoryRoot (), "examples", "RnnAd.Cli", "README.md")).Replace("\r\n", "\n")
            for command in [ "train"; "sample"; "evaluate"; "gradcheck"; "export"; "seed"; "info" ] do
                let heading = sprintf "### rnnad %s\n\n```\n" command
                let start = readme.IndexOf(heading, StringComparison.Ordinal)
                if start < 0 then failtestf "the README has no section '### rnnad %s'" command
                let from = start + heading.Length
                let shown = readme.Substring(from, readme.IndexOf("\n```", from, StringComparison.Ordinal) - from)
                let help = (rnnad [ command; "--help" ]).Out.Replace("\r\n", "\n").TrimEnd()
                Expect.equal shown help (sprintf "the README's options of rnnad %s (regenerate them from rnnad %s --help)" command command)
        }
    ]
