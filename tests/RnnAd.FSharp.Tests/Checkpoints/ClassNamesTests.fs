module RnnAd.FSharp.Tests.Checkpoints.ClassNamesTests

open System.IO
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Data
open RnnAd.FSharp.Tests
open RnnAd.FSharp.Files

let private spec : ModelSpec =
    { Cell = Cells.gru; Input = InputEncoding.Embedding(6, 3); HiddenSize = 4; Layers = 1; Bidirectional = false
      Dropout = 0.0; Head = HeadKind.LastStep; HeadHidden = []; Outputs = 3; Loss = Loss.crossEntropy }

[<Tests>]
let tests =
    testList "Checkpoints/class names" [
        test "a model checkpoint carries its class names; a loader reads them back" {
            TempFolder.run (fun dir ->
                let path = Path.Combine(dir, "m.safetensors")
                ClassNames.save path spec None (SequenceModel.init spec 1) [| "neg"; "neutral"; "pos" |]
                let loaded = Checkpoint.load path
                Expect.equal (ClassNames.ofMetadata path spec.Outputs loaded.Metadata) (Some [| "neg"; "neutral"; "pos" |]) "names")
        }
        test "names that do not fit the model are refused" {
            Check.throwsWith [ "2 class names"; "3 outputs" ] (fun () -> ClassNames.validate 3 [| "a"; "b" |])
            Check.throwsWith [ "'a' appears 2 times" ] (fun () -> ClassNames.validate 3 [| "a"; "b"; "a" |])
            let bad = Map.ofList [ ClassNames.metadataKey, "[\"a\", 1, \"c\"]" ]
            TempFolder.throws<InvalidDataException, _> [ "m.safetensors"; "rnnad.class_names"; "array of strings" ] (fun () -> ClassNames.ofMetadata "m.safetensors" 3 bad)
            Expect.isNone (ClassNames.ofMetadata "m.safetensors" 3 Map.empty) "no names, no error"
        }
        test "text outputs are written whole, and never over a directory" {
            TempFolder.run (fun dir ->
                let path = Path.Combine(dir, "history.csv")
                TextOutput.write path "a,b\n"
                TextOutput.write path "c,d\n"
                Expect.equal (File.ReadAllText path) "c,d\n" "replaced"
                Expect.equal (Directory.GetFiles dir).Length 1 "no temporary file left"
                TempFolder.throws<IOException, _> [ "cannot write"; "directory" ] (fun () -> TextOutput.write dir "x")
                TempFolder.throws<DirectoryNotFoundException, _> [ "does not exist" ] (fun () -> TextOutput.write (Path.Combine(dir, "missing", "h.csv")) "x"))
        }
    ]
