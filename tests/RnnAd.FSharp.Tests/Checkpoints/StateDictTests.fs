module RnnAd.FSharp.Tests.Checkpoints.StateDictTests

open System
open System.IO
open System.Text.Json
open Expecto
open RnnAd
open RnnAd.FSharp
open RnnAd.FSharp.Storage
open RnnAd.FSharp.Tests
open RnnAd.FSharp.Tests.Checkpoints.SafetensorsTests

// PyTorch models' state dicts as PyTorch users save them (their own module names, `format` "pt" or no
// metadata, F64/F32/F16/BF16), written with PyTorch 1.13's outputs on fixed inputs by
// tests/fixtures/pytorch_state_dicts.py. Both sides compute in float64 from the same stored weights, so the
// outputs agree to rounding: 1e-12 relative plus 1e-14 absolute (outputs are O(1); the sums run over at most
// a few dozen products, whose rounding is ~1e-16 each).

/// A fixture: the safetensors file's path and PyTorch's record of it.
type private Fixture = { Name: string; Path: string; Record: JsonElement }

let private fixtures =
    let folder = Path.Combine(AppContext.BaseDirectory, "state_dicts")
    Directory.GetFiles(folder, "*.safetensors")
    |> Array.sort
    |> Array.map (fun path ->
        use doc = JsonDocument.Parse(File.ReadAllText(Path.ChangeExtension(path, ".json")))
        { Name = Path.GetFileNameWithoutExtension path; Path = path; Record = doc.RootElement.Clone() })

let private floats (e: JsonElement) = e.EnumerateArray() |> Seq.map (fun v -> v.GetDouble()) |> Array.ofSeq
let private ints (e: JsonElement) = e.EnumerateArray() |> Seq.map (fun v -> v.GetInt32()) |> Array.ofSeq

/// What the weights cannot say about a fixture's model, as its user would give it.
let private hints (f: Fixture) : LoadOptions =
    let inputs = f.Record.GetProperty "inputs"
    { LoadOptions.Default with
        Head = Some(if f.Record.GetProperty("per_step").GetBoolean() then HeadKind.PerStep else HeadKind.LastStep)
        Input = (match inputs.TryGetProperty "features" with | true, _ -> Some InputKind.Features | _ -> None)
        Cell = (match f.Record.GetProperty("cell").GetString() with "RNN_RELU" -> Some CellKind.RnnRelu | "RNN_TANH" -> Some CellKind.RnnTanh | _ -> None) }

let private batchOf (f: Fixture) : Minibatch =
    let inputs = f.Record.GetProperty "inputs"
    let shape = ints (inputs.GetProperty "shape")
    let input =
        match inputs.TryGetProperty "features" with
        | true, values -> SequenceInput.Features(Tensor.OfArray(shape, floats values))
        | _ -> SequenceInput.Tokens(ints (inputs.GetProperty "tokens"))
    { Input = input; Batch = shape.[0]; Time = shape.[1]; Mask = None; Targets = Targets.None }

[<Tests>]
let tests =
    testList "Checkpoints/PyTorch state dicts" [
        test "the committed fixtures cover every dtype, cell, direction, depth and bias, and several module namings" {
            let distinct (field: string) = fixtures |> Array.map (fun f -> f.Record.GetProperty(field).ToString()) |> Array.distinct |> Array.sort
            Expect.equal (distinct "dtype") [| "BF16"; "F16"; "F32"; "F64" |] "dtypes"
            Expect.equal (distinct "cell") [| "GRU"; "LSTM"; "RNN_RELU"; "RNN_TANH" |] "cells"
            Expect.equal (distinct "bias") [| "False"; "True" |] "with and without biases"
            for cell in [ "RNN_TANH"; "LSTM"; "GRU" ] do
                let ofCell = fixtures |> Array.filter (fun f -> f.Record.GetProperty("cell").GetString() = cell)
                Expect.equal (ofCell |> Array.map (fun f -> f.Record.GetProperty("bias").GetBoolean()) |> Array.distinct |> Array.sort) [| false; true |] (cell + " with and without biases")
            Expect.equal fixtures.Length 9 "fixtures"
        }
        for f in fixtures do
            test (sprintf "%s loads without RnnAd's description and reproduces PyTorch's outputs" f.Name) {
                let checkpoint = Checkpoint.loadWith (hints f) f.Path
                let builtIn = Cells.tryBuiltIn checkpoint.Spec.Cell
                Expect.equal (builtIn |> Option.map (fun b -> b.Kind.Name)) (Some(f.Record.GetProperty("cell").GetString())) "the cell"
                Expect.equal (builtIn |> Option.map (fun b -> b.Bias)) (Some(f.Record.GetProperty("bias").GetBoolean())) "its biases"
                let outputs, _ = SequenceModel.forward checkpoint.Spec checkpoint.Parameters RunOptions.Default (batchOf f)
                Expect.equal outputs.Shape (ints (f.Record.GetProperty "output_shape")) "the outputs' shape"
                Check.close "outputs" 1e-12 1e-14 (floats (f.Record.GetProperty "outputs")) (outputs.ToArray())
                // Saved by RnnAd, the model (a bias-free one included) comes back as it was, with no hints.
                withTempDir (fun dir ->
                    let path = Path.Combine(dir, "saved.safetensors")
                    Checkpoint.save path checkpoint.Spec None checkpoint.Parameters
                    let again = Checkpoint.load path
                    Expect.isTrue (obj.ReferenceEquals(again.Spec.Cell, checkpoint.Spec.Cell)) "the same cell"
                    Expect.equal (again.Parameters.Tensors |> Array.map (fun t -> t.ToArray())) (checkpoint.Parameters.Tensors |> Array.map (fun t -> t.ToArray())) "the same weights")
            }
        test "what the weights cannot say is named, all at once, with what they do say" {
            let f = fixtures |> Array.find (fun f -> f.Name = "rnn-relu-mlp-head-f64")
            throwsOf<InvalidDataException>
                [ "rnn-relu-mlp-head-f64.safetensors"; "it holds no RnnAd description"; "2 layers of 5"; "head 5→4 → 4→3"
                  "tanh or relu"; "one-hot token ids or features"; "give Head" ]
                (fun () -> Checkpoint.load f.Path |> ignore)
        }
        test "a bias-free state dict is described as one" {
            let f = fixtures |> Array.find (fun f -> f.Name = "gru-nobias-bi-f64")
            throwsOf<InvalidDataException> [ "GRU without biases bidirectional"; "give Head" ] (fun () -> Checkpoint.load f.Path |> ignore)
        }
        test "a module name map renames a state dict the shapes leave ambiguous" {
            withTempDir (fun dir ->
                // Two linear layers that both read the stack's 4 outputs: only their names can say which is the head.
                let path = Path.Combine(dir, "two-heads.safetensors")
                let t (shape: int[]) = RawTensor.randomUniform 3 -0.5 0.5 shape
                Safetensors.write path [ "format", "pt" ]
                    [| "lstm.weight_ih_l0", t [| 16; 2 |]; "lstm.weight_hh_l0", t [| 16; 4 |]; "lstm.bias_ih_l0", t [| 16 |]; "lstm.bias_hh_l0", t [| 16 |]
                       "a.weight", t [| 3; 4 |]; "a.bias", t [| 3 |]; "b.weight", t [| 3; 4 |]; "b.bias", t [| 3 |] |]
                let options = { LoadOptions.Default with Head = Some HeadKind.LastStep; Input = Some InputKind.Features }
                throwsOf<InvalidDataException> [ "several linear layers read 4 values"; "'a.'"; "'b.'" ] (fun () -> Checkpoint.loadWith options path |> ignore)
                // With b dropped from the file and a named fc, it loads.
                let file = Safetensors.read path
                Safetensors.write path [ "format", "pt" ] (file.Tensors |> Array.filter (fun (n, _) -> not (n.StartsWith "b.")))
                let loaded = Checkpoint.loadWith { options with ModuleNames = [ "a.", "fc." ] } path
                Expect.equal loaded.Parameters.Names [| "rnn.weight_ih_l0"; "rnn.weight_hh_l0"; "rnn.bias_ih_l0"; "rnn.bias_hh_l0"; "fc.weight"; "fc.bias" |] "RnnAd's names")
        }
        test "a description given whole is used as it is, with the name map" {
            let f = fixtures |> Array.find (fun f -> f.Name = "lstm-features-f64")
            let spec =
                { Cell = Cells.lstm; Input = InputEncoding.Features 3; HiddenSize = 4; Layers = 1; Bidirectional = false; Dropout = 0.0
                  Head = HeadKind.PerStep; HeadHidden = []; Outputs = 2; Loss = Loss.crossEntropy }
            let loaded = Checkpoint.loadWith { LoadOptions.Default with Description = Some spec; ModuleNames = [ "lstm.", "rnn."; "linear.", "fc." ] } f.Path
            Expect.equal loaded.Spec spec "the description given"
            let inferred = Checkpoint.loadWith (hints f) f.Path
            Expect.equal (loaded.Parameters.Tensors |> Array.map (fun t -> t.ToArray())) (inferred.Parameters.Tensors |> Array.map (fun t -> t.ToArray())) "the same weights"
        }
        test "integers where parameters belong are refused; a file of RnnAd's with format pt is not a state dict" {
            withTempDir (fun dir ->
                let f = fixtures |> Array.find (fun f -> f.Name = "lstm-features-f64")
                let file = Safetensors.read f.Path
                // Rewrite lstm.bias_hh_l0 as I64 by hand: RnnAd's writer stores F64 only.
                let path = Path.Combine(dir, "integers.safetensors")
                let names = file.Tensors |> Array.map fst
                let header =
                    let mutable offset = 0
                    let entries =
                        file.Tensors |> Array.map (fun (n, t) ->
                            let dtype = if n = "lstm.bias_hh_l0" then "I64" else "F64"
                            let e = sprintf "\"%s\":{\"dtype\":\"%s\",\"shape\":[%s],\"data_offsets\":[%d,%d]}" n dtype (String.Join(",", t.Shape)) offset (offset + 8 * t.Numel)
                            offset <- offset + 8 * t.Numel
                            e)
                    "{\"__metadata__\":{\"format\":\"pt\"}," + String.Join(",", entries) + "}"
                use stream = File.Create path
                stream.Write(BitConverter.GetBytes(uint64 header.Length), 0, 8)
                let headerBytes = Text.Encoding.UTF8.GetBytes header
                stream.Write(headerBytes, 0, headerBytes.Length)
                for n, t in file.Tensors do
                    for v in t.ToArray() do
                        if n = "lstm.bias_hh_l0" then stream.Write(BitConverter.GetBytes(int64 (Math.Round(v * 10.0))), 0, 8)
                        else stream.Write(BitConverter.GetBytes v, 0, 8)
                stream.Dispose()
                Expect.equal (Safetensors.read path).Dtypes.["lstm.bias_hh_l0"] "I64" "read as integers"
                throwsOf<InvalidDataException> [ "tensor 'rnn.bias_hh_l0' holds integers (I64)" ] (fun () -> Checkpoint.loadWith (hints f) path |> ignore)
                ignore names)
        }
        test "a model saved to a stream loads back from it, bit for bit" {
            let f = fixtures |> Array.find (fun f -> f.Name = "gru-embedding-bi-2layers-f32")
            let original = Checkpoint.loadWith (hints f) f.Path
            use stream = new MemoryStream()
            Checkpoint.saveTo "memory" stream original.Spec None original.Parameters
            stream.Position <- 0L
            let again = Checkpoint.loadFrom LoadOptions.Default "memory" stream
            Expect.equal again.Spec original.Spec "spec"
            Expect.equal (again.Parameters.Tensors |> Array.map (fun t -> t.ToArray())) (original.Parameters.Tensors |> Array.map (fun t -> t.ToArray())) "parameters"
        }
    ]
