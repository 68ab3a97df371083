namespace RnnAd.Cli

open System
open System.Globalization
open System.IO
open System.Threading
open Argu
open RnnAd.FSharp
open RnnAd.FSharp.Files

/// `rnnad export`: a checkpoint as an ONNX file that ONNX Runtime and other engines run.
[<RequireQualifiedAccess>]
module ExportCommand =

    /// Exports as the options say; returns the exit code.
    let run (t: Terminal) (_: CancellationToken) (args: ParseResults<ExportArgs>) : int =
        let model = args.GetResult(ExportArgs.Model, "rnnad-model.safetensors")
        let onnx = args.GetResult ExportArgs.Onnx
        if String.IsNullOrWhiteSpace model then Options.fail "--model must name a checkpoint file"
        if String.IsNullOrWhiteSpace onnx then Options.fail "--onnx must name the file to write"
        let options =
            { Precision = (if args.Contains ExportArgs.Float64 then OnnxFloat.Float64 else OnnxFloat.Float32)
              Probabilities = args.Contains ExportArgs.Softmax
              SequenceLengths = args.Contains ExportArgs.Lengths }
        // Before reading anything: the output is never the checkpoint itself, a directory or a device.
        OutputFile.check onnx [ model ] |> ignore
        let checkpoint = Checkpoint.load model
        Onnx.exportFile checkpoint.Spec checkpoint.Parameters options onnx
        let spec = checkpoint.Spec
        let input =
            match spec.Input with
            | InputEncoding.Features f -> sprintf "%s (batch, time, %d)" (Onnx.inputName spec) f
            | _ -> sprintf "%s (batch, time) int64" (Onnx.inputName spec)
        let input = if options.SequenceLengths then sprintf "%s and %s (batch) int64" input Onnx.lengthsName else input
        let output =
            match spec.Head with
            | HeadKind.PerStep -> sprintf "%s (batch, time, %d)" (Onnx.outputName options) spec.Outputs
            | HeadKind.LastStep -> sprintf "%s (batch, %d)" (Onnx.outputName options) spec.Outputs
        Terminal.line t (sprintf "wrote %s: ONNX opset %d, %s, %s bytes; input %s, output %s"
                             onnx Onnx.opset (match options.Precision with OnnxFloat.Float32 -> "float32" | OnnxFloat.Float64 -> "float64")
                             ((FileInfo onnx).Length.ToString("N0", CultureInfo.InvariantCulture)) input output)
        0
