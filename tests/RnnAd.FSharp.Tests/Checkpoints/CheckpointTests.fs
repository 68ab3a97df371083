module RnnAd.FSharp.Tests.Checkpoints.CheckpointTests

open RnnAd
open System
open System.IO
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Storage
open RnnAd.FSharp.Tests.Checkpoints.SafetensorsTests

// Parameters must come back bit for bit (no tolerance), specs and vocabularies exactly. Expected metadata
// text is written out by hand from the documented format.

let private spec cell input hidden layers bidirectional dropout head headHidden outputs : ModelSpec =
    { Cell = Cells.ofKind cell
      Input = input
      HiddenSize = hidden
      Layers = layers
      Bidirectional = bidirectional
      Dropout = dropout
      Head = head
      HeadHidden = headHidden
      Outputs = outputs; Loss = Loss.crossEntropy }

/// Every cell kind, every input encoding, linear and MLP heads, a 2-layer bidirectional stack.
let private cases : (string * ModelSpec * string[] option) list =
    [ "RNN_TANH, one-hot, per step",
      spec CellKind.RnnTanh (InputEncoding.OneHot 5) 3 1 false 0.0 HeadKind.PerStep [] 5,
      Some [| "h"; "e"; "l"; "o"; "!" |]
      "RNN_RELU, features, last step",
      spec CellKind.RnnRelu (InputEncoding.Features 4) 2 1 false 0.0 HeadKind.LastStep [] 2,
      None
      "LSTM, embedding, MLP head, non-ASCII tokens",
      spec CellKind.Lstm (InputEncoding.Embedding(6, 3)) 4 1 false 0.0 HeadKind.PerStep [ 5 ] 6,
      Some [| "가"; "\n"; "\"q\""; "😀"; "<pad>"; "" |]
      "GRU, embedding, 2 layers bidirectional, dropout, 2-layer MLP head",
      spec CellKind.Gru (InputEncoding.Embedding(4, 2)) 3 2 true (1.0 / 3.0) HeadKind.LastStep [ 5; 3 ] 2,
      Some [| "a"; "b"; "c"; "d" |]
      "LSTM, features, 2 layers bidirectional",
      spec CellKind.Lstm (InputEncoding.Features 3) 2 2 true 0.1 HeadKind.PerStep [] 4,
      None ]

let private sameParameters (expected: NamedTensors) (actual: NamedTensors) =
    Expect.equal actual.Names expected.Names "parameter names, in model order"
    for (name, e), (_, a) in Array.zip expected.Entries actual.Entries do
        Expect.equal a.Shape e.Shape (sprintf "shape of %s" name)
        Expect.equal (bits (a.ToArray())) (bits (e.ToArray())) (sprintf "bits of %s" name)

/// The small model most failure tests use: parameters rnn.* (2 hidden units, 3 inputs) and fc.* (3 outputs).
let private small = spec CellKind.RnnTanh (InputEncoding.OneHot 3) 2 1 false 0.0 HeadKind.PerStep [] 3

/// Saves `small`, then rewrites the file with its metadata and tensors changed by `edit`.
let private tampered (dir: string) (name: string) (edit: Map<string, string> * (string * RawTensor)[] -> Map<string, string> * (string * RawTensor)[]) =
    let path = Path.Combine(dir, name)
    Checkpoint.save path small (Some [| "x"; "y"; "z" |]) (SequenceModel.init small 1)
    let file = Safetensors.read path
    let metadata, tensors = edit (file.Metadata, file.Tensors)
    Safetensors.write path (Map.toList metadata) tensors
    path

let private loadFails (path: string) (fragments: string list) =
    throwsOf<InvalidDataException> (Path.GetFileName path :: fragments) (fun () -> Checkpoint.load path |> ignore)

let private replaceModel (find: string) (replacement: string) (metadata: Map<string, string>, tensors) =
    let model = metadata.["rnnad.model"]
    if not (model.Contains find) then failtestf "the model description %s has no %s to replace" model find
    metadata.Add("rnnad.model", model.Replace(find, replacement)), tensors

let private roundTrip =
    testList "round trip" [
        for name, s, vocabulary in cases do
            test name {
                withTempDir (fun dir ->
                    let path = Path.Combine(dir, "model.safetensors")
                    let ps = SequenceModel.init s 42
                    Checkpoint.save path s vocabulary ps
                    let loaded = Checkpoint.load path
                    Expect.equal loaded.Spec s "the spec"
                    Expect.equal loaded.Vocabulary vocabulary "the vocabulary"
                    sameParameters ps loaded.Parameters
                    Expect.equal loaded.Metadata.["format"] "rnnad/1" "the format key")
            }
        test "parameters given in any order are stored and loaded in model order" {
            withTempDir (fun dir ->
                let _, s, _ = cases.[3]
                let ps = SequenceModel.init s 5
                let shuffled = NamedTensors(Array.rev ps.Entries)
                let path = Path.Combine(dir, "shuffled.safetensors")
                Checkpoint.save path s None shuffled
                Expect.equal (Array.map fst (Safetensors.read path).Tensors) ps.Names "stored in model order"
                sameParameters ps (Checkpoint.load path).Parameters)
        }
        test "the metadata holds the model description and vocabulary as documented" {
            withTempDir (fun dir ->
                let _, s, vocabulary = cases.[3]
                let path = Path.Combine(dir, "described.safetensors")
                Checkpoint.save path s vocabulary (SequenceModel.init s 9)
                let expected =
                    Map.ofList
                        [ "format", "rnnad/1"
                          "rnnad.model",
                          """{"cell":"GRU","input":{"encoding":"embedding","vocabulary":4,"dim":2},"hidden_size":3,"layers":2,"bidirectional":true,"dropout":0.3333333333333333,"head":"last_step","head_hidden":[5,3],"outputs":2}"""
                          "rnnad.vocabulary", """["a","b","c","d"]""" ]
                Expect.equal (Safetensors.read path).Metadata expected "__metadata__")
        }
        test "a checkpoint with F32 parameters, written byte by byte by another tool, loads widened" {
            withTempDir (fun dir ->
                let s = spec CellKind.RnnTanh (InputEncoding.Features 1) 1 1 false 0.0 HeadKind.LastStep [] 1
                // The model description is a JSON string inside the JSON header, hence the escaped quotes; the
                // cell name in lower case is accepted as CellKind.Parse accepts it.
                let model =
                    """{\"cell\":\"rnn_tanh\",\"input\":{\"encoding\":\"features\",\"size\":1},\"hidden_size\":1,\"layers\":1,\"bidirectional\":false,\"dropout\":0,\"head\":\"last_step\",\"head_hidden\":[],\"outputs\":1}"""
                let f32 name b = sprintf "\"%s\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[%d,%d]}" name b
                let header =
                    "{\"__metadata__\":{\"format\":\"rnnad/1\",\"rnnad.model\":\"" + model + "\"},"
                    + String.Join(",",
                        [ f32 "fc.bias" "[1]" 20 24
                          f32 "rnn.weight_ih_l0" "[1,1]" 0 4
                          f32 "rnn.weight_hh_l0" "[1,1]" 4 8
                          f32 "rnn.bias_ih_l0" "[1]" 8 12
                          f32 "rnn.bias_hh_l0" "[1]" 12 16
                          f32 "fc.weight" "[1,1]" 16 20 ])
                    + "}"
                // 0.5f = 0x3F000000, -0.25f = 0xBE800000, 1.0f = 0x3F800000, 2.0f = 0x40000000,
                // -1.5f = 0xBFC00000, 0.75f = 0x3F400000 (little-endian below).
                let data =
                    [| 0uy; 0uy; 0uy; 0x3Fuy; 0uy; 0uy; 0x80uy; 0xBEuy; 0uy; 0uy; 0x80uy; 0x3Fuy
                       0uy; 0uy; 0uy; 0x40uy; 0uy; 0uy; 0xC0uy; 0xBFuy; 0uy; 0uy; 0x40uy; 0x3Fuy |]
                let path = Path.Combine(dir, "torch.safetensors")
                File.WriteAllBytes(path, fileBytes header data)
                let loaded = Checkpoint.load path
                Expect.equal loaded.Spec s "the spec"
                Expect.isNone loaded.Vocabulary "no vocabulary"
                Expect.equal loaded.Parameters.Names [| "rnn.weight_ih_l0"; "rnn.weight_hh_l0"; "rnn.bias_ih_l0"; "rnn.bias_hh_l0"; "fc.weight"; "fc.bias" |] "model order"
                Expect.equal (loaded.Parameters.Tensors |> Array.collect (fun t -> t.ToArray()) |> bits) (bits [| 0.5; -0.25; 1.0; 2.0; -1.5; 0.75 |]) "values")
        }
        test "saveTensors and loadTensors keep names, order, values and metadata" {
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "optimizer.safetensors")
                let state =
                    NamedTensors
                        [| "m.rnn.weight_ih_l0", Tensor.Constant(RawTensor.randomUniform 3 -1.0 1.0 [| 4; 3 |])
                           "v.rnn.weight_ih_l0", Tensor.Constant(RawTensor.randomUniform 4 0.0 1.0 [| 4; 3 |])
                           "step", Tensor.Scalar 17.0 |]
                Checkpoint.saveTensors path [ "optimizer", "adam"; "epoch", "3" ] state
                let loaded = Checkpoint.loadTensors path
                Expect.equal loaded.Metadata (Map.ofList [ "optimizer", "adam"; "epoch", "3" ]) "metadata"
                sameParameters state loaded.Tensors)
        }
    ]

let private loadErrors =
    testList "load rejects" [
        test "a missing parameter, naming it and its expected shape" {
            withTempDir (fun dir ->
                let path = tampered dir "missing.safetensors" (fun (m, ts) -> m, ts |> Array.filter (fun (n, _) -> n <> "rnn.bias_hh_l0"))
                loadFails path [ "tensor 'rnn.bias_hh_l0' is missing"; "shape (2,)" ])
        }
        test "a parameter of the wrong shape, naming expected and found" {
            withTempDir (fun dir ->
                let swap (n, raw: RawTensor) = n, (if n = "fc.weight" then RawTensor.zeros [| 2; 3 |] else raw)
                let path = tampered dir "shape.safetensors" (fun (m, ts) -> m, Array.map swap ts)
                loadFails path [ "tensor 'fc.weight' has shape (2, 3), expected (3, 2)" ])
        }
        test "a tensor the model does not have" {
            withTempDir (fun dir ->
                let path = tampered dir "extra.safetensors" (fun (m, ts) -> m, Array.append ts [| "fc.extra", RawTensor.scalar 1.0 |])
                loadFails path [ "tensor 'fc.extra' is not a parameter" ])
        }
        test "a missing or foreign format key" {
            withTempDir (fun dir ->
                loadFails (tampered dir "no-format.safetensors" (fun (m, ts) -> m.Remove "format", ts)) [ "metadata key 'format' is missing"; "'rnnad/1'" ]
                loadFails (tampered dir "pt.safetensors" (fun (m, ts) -> m.Add("format", "pt"), ts)) [ "metadata key 'format' is 'pt', expected 'rnnad/1'" ])
        }
        test "a missing or malformed model description, naming the key and field" {
            withTempDir (fun dir ->
                let t name edit = tampered dir name edit
                loadFails (t "no-model.safetensors" (fun (m, ts) -> m.Remove "rnnad.model", ts)) [ "metadata key 'rnnad.model' is missing" ]
                loadFails (t "bad-json.safetensors" (fun (m, ts) -> m.Add("rnnad.model", "{\"cell\""), ts)) [ "metadata key 'rnnad.model'"; "not well-formed JSON" ]
                loadFails (t "array.safetensors" (fun (m, ts) -> m.Add("rnnad.model", "[]"), ts)) [ "'rnnad.model'"; "expected a JSON object, found []" ]
                loadFails (t "cell.safetensors" (replaceModel "\"RNN_TANH\"" "\"TRANSFORMER\"")) [ "'rnnad.model'"; "field 'cell'"; "'TRANSFORMER'" ]
                loadFails (t "hidden.safetensors" (replaceModel "\"hidden_size\":2" "\"hidden_size\":-3")) [ "'rnnad.model'"; "field 'hidden_size'"; "positive integer, found -3" ]
                loadFails (t "layers.safetensors" (replaceModel "\"layers\":1," "")) [ "'rnnad.model'"; "field 'layers' is missing" ]
                loadFails (t "unknown.safetensors" (replaceModel "\"layers\":1" "\"layers\":1,\"colour\":\"red\"")) [ "field 'colour' is not part of rnnad/1" ]
                loadFails (t "dropout.safetensors" (replaceModel "\"dropout\":0" "\"dropout\":1.5")) [ "field 'dropout'"; "[0, 1), found 1.5" ]
                loadFails (t "encoding.safetensors" (replaceModel "\"one_hot\"" "\"bag\"")) [ "field 'input.encoding'"; "found 'bag'" ]
                loadFails (t "input-size.safetensors" (replaceModel "\"vocabulary\":3" "\"vocabulary\":\"3\"")) [ "field 'input.vocabulary'"; "found \"3\"" ]
                loadFails (t "head.safetensors" (replaceModel "\"per_step\"" "\"middle\"")) [ "field 'head'"; "found 'middle'" ]
                loadFails (t "bias.safetensors" (replaceModel "\"RNN_TANH\"" "\"RNN_TANH\",\"bias\":\"no\"")) [ "field 'bias'"; "expected true or false, found \"no\"" ]
                // A bias-free description over a biased cell's tensors: the biases are tensors the model does not have.
                loadFails (t "bias-free.safetensors" (replaceModel "\"RNN_TANH\"" "\"RNN_TANH\",\"bias\":false")) [ "rnn.bias_ih_l0" ])
        }
        test "a malformed vocabulary" {
            withTempDir (fun dir ->
                let vocab text (m: Map<string, string>, ts) = m.Add("rnnad.vocabulary", text), ts
                loadFails (tampered dir "short.safetensors" (vocab "[\"x\",\"y\"]")) [ "'rnnad.vocabulary'"; "2 tokens, expected 3" ]
                loadFails (tampered dir "object.safetensors" (vocab "{}")) [ "'rnnad.vocabulary'"; "expected a JSON array of strings" ]
                loadFails (tampered dir "number.safetensors" (vocab "[\"x\",1,\"z\"]")) [ "'rnnad.vocabulary'"; "token 1: expected a string, found 1" ]
                loadFails (tampered dir "twice.safetensors" (vocab "[\"x\",\"y\",\"x\"]")) [ "'rnnad.vocabulary'"; "'x' appears twice"; "ids 0 and 2" ])
        }
        test "a parameter that is not finite, naming the tensor and where" {
            withTempDir (fun dir ->
                let poison (n, raw: RawTensor) =
                    n, (if n = "rnn.weight_hh_l0" then RawTensor.ofArray raw.Shape (raw.ToArray() |> Array.mapi (fun i v -> if i = 3 then nan else v)) else raw)
                loadFails (tampered dir "nan.safetensors" (fun (m, ts) -> m, Array.map poison ts)) [ "tensor 'rnn.weight_hh_l0' holds NaN at flat index 3" ])
        }
        test "a description larger than the file, refused before anything is built from it" {
            // 2³¹ − 1 layers of 4 tensors each and the head's 2: listing their names alone would take hundreds of gigabytes.
            withTempDir (fun dir ->
                let path = tampered dir "layers.safetensors" (replaceModel "\"layers\":1" "\"layers\":2147483647")
                let before = GC.GetAllocatedBytesForCurrentThread()
                loadFails path [ "has 8589934590 parameter tensors, the file holds 6" ]
                // A few kilobytes of parsing; 1 MB leaves room for any runtime's own allocations.
                Expect.isLessThan (GC.GetAllocatedBytesForCurrentThread() - before) 1_000_000L "bytes allocated by the refusal")
        }
        test "a vocabulary token that is not valid Unicode text" {
            withTempDir (fun dir ->
                let vocab text (m: Map<string, string>, ts) = m.Add("rnnad.vocabulary", text), ts
                loadFails (tampered dir "surrogate.safetensors" (vocab "[\"\\ud800\",\"y\",\"z\"]")) [ "'rnnad.vocabulary'"; "token 0 is not valid Unicode text" ])
        }
        test "a plain safetensors file that is not a checkpoint" {
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "plain.safetensors")
                Safetensors.write path [] [| "w", RawTensor.scalar 1.0 |]
                // Without RnnAd's description it is read as a PyTorch state dict, which it is not either.
                loadFails path [ "state dict"; "no tensor is named like a recurrent layer's" ])
        }
    ]

let private saveErrors =
    testList "save rejects" [
        test "parameters that do not match the model, and bad vocabularies, leaving an existing file untouched" {
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "model.safetensors")
                let ps = SequenceModel.init small 3
                Checkpoint.save path small None ps
                let before = File.ReadAllBytes path
                let without name = NamedTensors(ps.Entries |> Array.filter (fun (n, _) -> n <> name))
                let fails fragments f = throwsOf<ArgumentException> ("model.safetensors" :: fragments) f
                fails [ "parameter 'fc.bias' (shape (3,)) is missing" ] (fun () -> Checkpoint.save path small None (without "fc.bias"))
                fails [ "parameter 'fc.weight' has shape (3, 3), expected (3, 2)" ] (fun () ->
                    Checkpoint.save path small None (NamedTensors.map (fun n t -> if n = "fc.weight" then Tensor.Zeros [| 3; 3 |] else t) ps))
                fails [ "'extra' is not a parameter of this model" ] (fun () ->
                    Checkpoint.save path small None (NamedTensors(Array.append ps.Entries [| "extra", Tensor.Scalar 0.0 |])))
                fails [ "vocabulary has 2 tokens, expected 3" ] (fun () -> Checkpoint.save path small (Some [| "a"; "b" |]) ps)
                fails [ "the token 'a' appears twice" ] (fun () -> Checkpoint.save path small (Some [| "a"; "b"; "a" |]) ps)
                fails [ "Layers" ] (fun () -> Checkpoint.save path { small with Layers = 0 } None ps)
                let features = spec CellKind.Gru (InputEncoding.Features 2) 2 1 false 0.0 HeadKind.PerStep [] 3
                fails [ "reads features"; "no vocabulary" ] (fun () ->
                    Checkpoint.save path features (Some [| "a"; "b" |]) (SequenceModel.init features 1))
                Expect.equal (File.ReadAllBytes path) before "the existing checkpoint is untouched"
                Expect.equal (Directory.GetFiles dir |> Array.map Path.GetFileName) [| "model.safetensors" |] "no temporary file left")
        }
    ]

[<Tests>]
let tests = testList "Checkpoints/checkpoint" [ roundTrip; loadErrors; saveErrors ]
