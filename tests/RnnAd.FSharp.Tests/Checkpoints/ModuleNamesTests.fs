module RnnAd.FSharp.Tests.Checkpoints.ModuleNamesTests

// Every checkpoint RnnAd writes must load into the PyTorch module a user would write for the same model with
// `load_state_dict(strict=True)`, which accepts a state dict exactly when its keys and shapes are the module's.
// The modules' keys and shapes come from PyTorch itself (tests/fixtures/pytorch_module_names.py), so this test
// fails on any renamed, extra (an optimizer buffer, say) or missing tensor.

open System
open System.IO
open System.Text.Json
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Tests

let private cases () =
    use doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "state_dicts", "module_names.json")))
    [ for c in doc.RootElement.EnumerateArray() ->
        let int (name: string) = c.GetProperty(name).GetInt32()
        let ints (e: JsonElement) = [ for v in e.EnumerateArray() -> v.GetInt32() ]
        let input =
            match c.GetProperty("input").GetString() with
            | "embedding" -> let vd = ints (c.GetProperty "input_size") in InputEncoding.Embedding(vd.[0], vd.[1])
            | "one_hot" -> InputEncoding.OneHot(int "input_size")
            | _ -> InputEncoding.Features(int "input_size")
        let cell = c.GetProperty("cell").GetString()
        let spec =
            { Cell = (Cells.tryFind [] (cell.ToUpperInvariant())).Value; Input = input; HiddenSize = int "hidden"; Layers = int "layers"
              Bidirectional = c.GetProperty("bidirectional").GetBoolean(); Dropout = 0.0; Head = HeadKind.PerStep
              HeadHidden = ints (c.GetProperty "head_hidden"); Outputs = int "outputs"; Loss = Loss.crossEntropy }
        let expected =
            [ for e in c.GetProperty("state_dict").EnumerateArray() -> e.[0].GetString(), ints e.[1] ] |> List.sort
        sprintf "%s %s, %d layer(s)%s" cell (c.GetProperty("input").GetString()) spec.Layers (if spec.Bidirectional then ", bidirectional" else ""),
        spec, expected ]

let private keysAndShapes (path: string) =
    (Safetensors.read path).Tensors |> Array.map (fun (n, t) -> n, List.ofArray t.Shape) |> List.ofArray |> List.sort

[<Tests>]
let tests =
    testList "Checkpoints/PyTorch module names" [
        for name, spec, expected in cases () ->
            test name {
                TempFolder.run (fun folder ->
                    let model = Path.Combine(folder, "model.safetensors")
                    let parameters = SequenceModel.init spec 1
                    Checkpoint.save model spec None parameters
                    Expect.equal (keysAndShapes model) expected "a model checkpoint"
                    let training = Path.Combine(folder, "training.safetensors")
                    TrainingCheckpoint.save training spec None (Training.start TrainingOptions.Default parameters)
                    Expect.equal (keysAndShapes training) expected "a training checkpoint")
            }
    ]
