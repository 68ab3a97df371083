module RnnAd.FSharp.Tests.Cli.ReliabilityTests

open System
open System.IO
open Expecto
open RnnAd.FSharp.Tests

// Bad input as a careless or hostile user gives it: every case ends in one clear line and an exit code, and no
// file but rnnad's own output is ever written.

let private rnnad = CliSupport.rnnad

/// `rnnad train` on the 100-character `abcd` text in `folder` with tiny sizes; `options` (name, value) replace
/// the tiny defaults of the same name or add to them (a value of "" adds a flag, null leaves the option out).
let private tiny (folder: string) (options: (string * string) list) =
    let text = Path.Combine(folder, "abcd.txt")
    if not (File.Exists text) then File.WriteAllText(text, CliSupport.abcd)
    let defaults =
        [ "--text", text; "--hidden", "2"; "--embedding", "2"; "--window", "4"; "--epochs", "1"; "--sample-length", "0"
          "--output", Path.Combine(folder, "model.safetensors") ]
    let given = options |> List.map fst
    let all = (defaults |> List.filter (fun (name, _) -> not (List.contains name given))) @ options
    rnnad ("train" :: [ for name, value in all do
                            if not (isNull value) then
                                name
                                if value <> "" then value ])

[<Tests>]
let sizes =
    testList "Cli/sizes" [
        test "a window longer than the text is refused naming --window, even at int.MaxValue" {
            TempFolder.run (fun folder ->
                for window in [ "101"; "2147483647"; "2147483646" ] do
                    let run = tiny folder [ "--window", window ]
                    CliSupport.expectError 2 [ "--window " + window; "100 characters" ] run ("--window " + window)
                    Expect.isFalse (File.Exists(Path.Combine(folder, "model.safetensors"))) "no checkpoint is written")
        }
        test "sizes no machine could hold are refused before any work, naming the option" {
            TempFolder.run (fun folder ->
                for option, value in
                    [ "--layers", "2147483647"; "--hidden", "2147483647"; "--hidden", "1000000"; "--embedding", "2147483647"
                      "--sample-length", "2147483647"; "--epochs", "2147483647"; "--batch-size", "2147483647"; "--stride", "2147483647" ] do
                    let run = tiny folder [ option, value ]
                    let what = sprintf "train %s %s" option value
                    if option = "--batch-size" || option = "--stride" then
                        // One batch of every window, or one window: small work, which runs.
                        CliSupport.expectSuccess run what
                    else
                        if run.Code <> 1 && run.Code <> 2 then failtestf "%s: expected exit code 1 or 2, got %d: %s" what run.Code run.Error
                        CliSupport.expectError run.Code [ option + " " + value ] run what
                        Expect.equal run.Out "" (sprintf "%s: refused before training" what))
        }
        test "sample and gradcheck refuse sizes no machine could hold, naming the option" {
            TempFolder.run (fun folder ->
                CliSupport.expectSuccess (tiny folder []) "a model to sample from"
                let model = Path.Combine(folder, "model.safetensors")
                let cases =
                    [ [ "sample"; "--model"; model; "--length"; "2147483647" ], "--length 2147483647"
                      for option in [ "--batch"; "--time"; "--input"; "--hidden"; "--layers"; "--outputs" ] do
                          [ "gradcheck"; option; "2147483647" ], option + " 2147483647"
                      [ "gradcheck"; "--batch"; "1000000"; "--time"; "1000000" ], "--batch 1000000" ]
                for argv, fragment in cases do
                    let what = String.Join(" ", argv)
                    let run = rnnad argv
                    if run.Code <> 1 && run.Code <> 2 then failtestf "%s: expected exit code 1 or 2, got %d: %s" what run.Code run.Error
                    CliSupport.expectError run.Code [ fragment ] run what
                    Expect.equal run.Out "" (sprintf "%s: refused before any work" what))
        }
        test "a text too long for the memory this process may use is refused before it is read" {
            TempFolder.run (fun folder ->
                let text = Path.Combine(folder, "long.txt")
                do
                    // Sparse: 200 MB long, nothing written. The child process's heap is capped at 256 MB.
                    use s = new FileStream(text, FileMode.CreateNew)
                    s.SetLength 200_000_000L
                let code, out, error =
                    CliSupport.program [ "train"; "--text"; text; "--output"; Path.Combine(folder, "m.safetensors") ] [ "DOTNET_GCHeapHardLimit", "0x10000000" ]
                Expect.equal code 1 (sprintf "exit code; stderr: %s" error)
                Expect.equal out "" "nothing on stdout"
                CliSupport.expectError 1 [ "--text"; "long.txt"; "200,000,000 bytes" ] { Code = code; Out = out; Error = error } "a long text")
        }
    ]


[<Tests>]
let files =
    testList "Cli/files" [
        test "an output that is the text itself, under any name, is refused before training and the text is untouched" {
            TempFolder.run (fun folder ->
                let text = Path.Combine(folder, "mytext.txt")
                File.WriteAllText(text, CliSupport.abcd)
                Directory.CreateDirectory(Path.Combine(folder, "sub")) |> ignore
                let symbolic = Path.Combine(folder, "symbolic.txt")
                File.CreateSymbolicLink(symbolic, "mytext.txt") |> ignore
                let hard = Path.Combine(folder, "hard.txt")
                TempFolder.hardLink text hard
                for output in [ text; Path.Combine(folder, "sub", "..", "mytext.txt"); symbolic; hard ] do
                    let run = tiny folder [ "--text", text; "--output", output ]
                    CliSupport.expectError 1 [ "--output"; output; "mytext.txt" ] run ("--output " + output)
                    Expect.equal run.Out "" (sprintf "--output %s: refused before anything else is printed" output)
                    Expect.equal (File.ReadAllText text) CliSupport.abcd "the text is untouched"
                    Expect.equal (TempFolder.fileType symbolic) "symbolic link" "the link is untouched")
        }
        test "the loss curve may not overwrite the text either" {
            TempFolder.run (fun folder ->
                let text = Path.Combine(folder, "run.loss.png")
                File.WriteAllText(text, CliSupport.abcd)
                let run = tiny folder [ "--text", text; "--output", Path.Combine(folder, "run.safetensors") ]
                CliSupport.expectError 1 [ "loss curve"; "run.loss.png" ] run "--output run.safetensors with --text run.loss.png"
                Expect.equal (File.ReadAllText text) CliSupport.abcd "the text is untouched")
        }
        test "an output that is a FIFO, a socket or a directory is refused before training and left alone" {
            TempFolder.run (fun folder ->
                let fifo = Path.Combine(folder, "pipe")
                TempFolder.fifo fifo
                let socket = Path.Combine(folder, "socket")
                use _ = TempFolder.socket socket
                for output, kind, fileType in [ fifo, "FIFO", "fifo"; socket, "socket", "socket"; folder, "directory", "directory" ] do
                    let run = tiny folder [ "--output", output ]
                    CliSupport.expectError 1 [ "--output"; output; kind ] run ("--output " + kind)
                    Expect.equal run.Out "" "refused before training"
                    Expect.equal (TempFolder.fileType output) fileType "left as it was")
        }
        test "--text that is a directory, a device or a FIFO says what it is" {
            TempFolder.run (fun folder ->
                let fifo = Path.Combine(folder, "pipe")
                TempFolder.fifo fifo
                for text, kind in [ folder, "is a directory"; "/dev/zero", "is a character device"; "/dev/null", "is a character device"; fifo, "is a FIFO" ] do
                    CliSupport.expectError 1 [ text; kind ] (tiny folder [ "--text", text ]) ("--text " + text))
        }
        test "an output folder that cannot take a file is refused before training" {
            TempFolder.run (fun folder ->
                let file = Path.Combine(folder, "file")
                File.WriteAllText(file, "not a folder")
                // procfs takes no new file, even from root, for whom permission bits would not stop a write.
                for output in [ "/proc/model.safetensors"; Path.Combine(file, "model.safetensors") ] do
                    let run = tiny folder [ "--output", output ]
                    CliSupport.expectError 1 [ "--output"; output ] run ("--output " + output)
                    Expect.equal run.Out "" "refused before training")
        }
        test "a missing output folder is created" {
            TempFolder.run (fun folder ->
                let output = Path.Combine(folder, "runs", "first", "model.safetensors")
                CliSupport.expectSuccess (tiny folder [ "--output", output ]) "train into a new folder"
                Expect.isTrue (File.Exists output) "the checkpoint"
                Expect.isTrue (File.Exists(Path.Combine(folder, "runs", "first", "model.loss.png"))) "the loss curve")
        }
        test "when the final save fails, the trained model is saved elsewhere and the one line says where" {
            TempFolder.run (fun folder ->
                let runs = Path.Combine(folder, "runs")
                Directory.CreateDirectory runs |> ignore
                let output = Path.Combine(runs, "model.safetensors")
                // After the first epoch the output's folder becomes a file, so no save can land there any more.
                let breakFolder () =
                    Directory.Delete(runs, true)
                    File.WriteAllText(runs, "in the way")
                use out = new TriggerWriter("epoch 1/2", breakFolder)
                let text = Path.Combine(folder, "abcd.txt")
                File.WriteAllText(text, CliSupport.abcd)
                let run =
                    CliSupport.runWith out
                        [ "train"; "--text"; text; "--hidden"; "2"; "--embedding"; "2"; "--window"; "4"; "--epochs"; "2"; "--sample-length"; "0"
                          "--output"; output ]
                CliSupport.expectError 1 [ output; "saved in" ] run "a save that fails"
                let line = (CliSupport.lines run.Error).[0]
                let rescued = line.Substring(line.IndexOf "saved in '" + "saved in '".Length).Split('\'').[0]
                try
                    let _, state = RnnAd.FSharp.TrainingCheckpoint.load rescued
                    Expect.equal state.Epoch 2 "the rescued checkpoint holds both epochs"
                finally
                    RnnAd.FSharp.TrainingCheckpoint.delete rescued)
        }
        test "--resume refuses a text whose content changed since the run started, naming it" {
            TempFolder.run (fun folder ->
                let text = Path.Combine(folder, "abcd.txt")
                CliSupport.expectSuccess (tiny folder []) "first epoch"
                // The same name, length and characters: only the digest tells the texts apart.
                File.WriteAllText(text, String.replicate 25 "dcba")
                let run = tiny folder [ "--epochs", "2"; "--resume", ""; "--hidden", null; "--embedding", null ]
                CliSupport.expectError 1 [ text; "changed"; "SHA-256" ] run "resume with another text")
        }
        test "sample names an empty token in a checkpoint's vocabulary as empty, not as a multi-character token" {
            TempFolder.run (fun folder ->
                let spec: RnnAd.FSharp.ModelSpec =
                    { Cell = RnnAd.FSharp.Cells.gru; Input = RnnAd.FSharp.InputEncoding.Embedding(3, 2); HiddenSize = 2; Layers = 1
                      Bidirectional = false; Dropout = 0.0; Head = RnnAd.FSharp.HeadKind.PerStep; HeadHidden = []; Outputs = 3; Loss = RnnAd.FSharp.Loss.crossEntropy }
                let model = Path.Combine(folder, "empty-token.safetensors")
                RnnAd.FSharp.Checkpoint.save model spec (Some [| "a"; ""; "c" |]) (RnnAd.FSharp.SequenceModel.init spec 1)
                CliSupport.expectError 1 [ "empty-token.safetensors"; "an empty token (id 1)" ] (rnnad [ "sample"; "--model"; model ]) "sample")
        }
        test "a checkpoint from before texts were digested resumes on its options alone" {
            TempFolder.run (fun folder ->
                CliSupport.expectSuccess (tiny folder []) "first epoch"
                let model = Path.Combine(folder, "model.safetensors")
                let file = RnnAd.FSharp.Safetensors.read model
                let options = file.Metadata.["rnnad.cli.train"]
                let older = options.Substring(0, options.IndexOf "; text-sha256=")
                RnnAd.FSharp.Safetensors.write model (file.Metadata.Add("rnnad.cli.train", older) |> Map.toList) file.Tensors
                CliSupport.expectSuccess (tiny folder [ "--epochs", "2"; "--resume", ""; "--hidden", null; "--embedding", null ]) "resumed")
        }
    ]
