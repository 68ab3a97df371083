module RnnAd.FSharp.Tests.Cli.ExportCommandTests

open System.IO
open Expecto
open Microsoft.ML.OnnxRuntime
open RnnAd
open RnnAd.FSharp
open RnnAd.FSharp.Tests.Interop
open RnnAd.FSharp.Tests

let private rnnad = CliSupport.rnnad

/// A seeded batch of the abcd model's four letters: 3 sequences of 6 steps.
let private abcdBatch : Minibatch =
    let random = System.Random(17)
    { Input = SequenceInput.Tokens(Array.init 18 (fun _ -> random.Next 4)); Batch = 3; Time = 6; Mask = None; Targets = Targets.None }

[<Tests>]
let export =
    testList "Cli/export" [
        test "a trained checkpoint exports in float32 with softmax, in float64, with lengths, and runs in ONNX Runtime as RnnAd runs it" {
            TempFolder.run (fun folder ->
                let trained, model = CliSupport.trainAbcd folder [ "--epochs"; "1" ]
                CliSupport.expectSuccess trained "train"
                let checkpoint = Checkpoint.load model
                // With --lengths, sequences of 6, 2 and 4 real steps; outputs compared at the real steps.
                let padded = { abcdBatch with Mask = Some(Array.init 18 (fun i -> if i % 6 < [| 6; 2; 4 |].[i / 6] then 1.0 else 0.0)) }
                for flags, precision, probabilities, tolerance, floor in
                    [ [ "--softmax" ], OnnxFloat.Float32, true, OnnxExportTests.float32Tolerance, OnnxExportTests.float32Floor
                      [ "--float64" ], OnnxFloat.Float64, false, OnnxExportTests.float64Tolerance, OnnxExportTests.float64Floor
                      [ "--lengths"; "--float64" ], OnnxFloat.Float64, false, OnnxExportTests.float64Tolerance, OnnxExportTests.float64Floor ] do
                    let lengths = List.contains "--lengths" flags
                    let batch = if lengths then padded else abcdBatch
                    let onnx = Path.Combine(folder, "model.onnx")
                    let run = rnnad ([ "export"; "--model"; model; "--onnx"; onnx ] @ flags)
                    CliSupport.expectSuccess run "export"
                    let output = if probabilities then "probabilities" else "outputs"
                    let input = if lengths then "tokens (batch, time) int64 and lengths (batch) int64" else "tokens (batch, time) int64"
                    Expect.stringContains run.Out (sprintf "input %s, output %s (batch, time, 4)" input output) "the line says what the graph reads and gives"
                    use session = new InferenceSession(onnx)
                    let c : OnnxExportTests.Configuration = { Name = "abcd"; Spec = checkpoint.Spec; Probabilities = probabilities }
                    let got, _ = OnnxExportTests.runOnnxWith lengths session checkpoint.Spec precision batch
                    let real = OnnxExportTests.atRealSteps checkpoint.Spec batch
                    let r, at = OnnxExportTests.worst floor (real (OnnxExportTests.expected c checkpoint.Parameters batch)) (real got)
                    if not (r <= tolerance) then failtestf "%A %A: entry %d differs by %.3g relative" flags precision at r)
        }

        test "the checkpoint itself, a directory, a missing --onnx and probabilities of a regression model are refused" {
            TempFolder.run (fun folder ->
                let trained, model = CliSupport.trainAbcd folder [ "--epochs"; "1" ]
                CliSupport.expectSuccess trained "train"
                let before = File.ReadAllBytes model
                CliSupport.expectError 1 [ "is the input" ] (rnnad [ "export"; "--model"; model; "--onnx"; model ]) "--onnx is the checkpoint"
                Expect.equal (File.ReadAllBytes model) before "the checkpoint is untouched"
                CliSupport.expectError 1 [ "directory" ] (rnnad [ "export"; "--model"; model; "--onnx"; folder ]) "--onnx is a directory"
                CliSupport.expectError 2 [ "--onnx" ] (rnnad [ "export"; "--model"; model ]) "no --onnx"
                let regression = Path.Combine(folder, "regression.safetensors")
                let spec =
                    { Cell = Cells.gru; Input = InputEncoding.Features 2; HiddenSize = 3; Layers = 1; Bidirectional = false; Dropout = 0.0
                      Head = HeadKind.LastStep; HeadHidden = []; Outputs = 2; Loss = Loss.MeanSquaredError }
                Checkpoint.save regression spec None (SequenceModel.init spec 1)
                let onnx = Path.Combine(folder, "regression.onnx")
                CliSupport.expectError 1 [ "cannot export to ONNX"; "mse"; "regression" ] (rnnad [ "export"; "-m"; regression; "--onnx"; onnx; "--softmax" ]) "--softmax of a regression model"
                Expect.isFalse (File.Exists onnx) "nothing written"
                CliSupport.expectSuccess (rnnad [ "export"; "-m"; regression; "--onnx"; onnx ]) "its values export"
                use session = new InferenceSession(onnx)
                Expect.equal session.OutputMetadata.["outputs"].Dimensions [| -1; 2 |] "(batch, outputs)")
        }
    ]
