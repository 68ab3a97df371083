module RnnAd.FSharp.Tests.Interop.OnnxExportTests

open System
open System.IO
open Expecto
open Microsoft.ML.OnnxRuntime
open RnnAd
open RnnAd.FSharp
open RnnAd.FSharp.Tests

/// One model to export: its spec and whether the export adds softmax (or the logistic function).
type Configuration = { Name: string; Spec: ModelSpec; Probabilities: bool }

let private model cell input hidden layers bidirectional head headHidden outputs loss : ModelSpec =
    { Cell = cell
      Input = input
      HiddenSize = hidden
      Layers = layers
      Bidirectional = bidirectional
      Dropout = 0.0
      Head = head
      HeadHidden = headHidden
      Outputs = outputs
      Loss = loss }

/// Every cell, with and without biases, 1 and 2 layers, both directions, both heads, linear and MLP heads, every input encoding, every
/// kind of output (class scores with and without softmax, multi-label scores with and without the logistic
/// function, values).
let private configurations : Configuration list =
    let ce = Loss.crossEntropy
    let per, last = HeadKind.PerStep, HeadKind.LastStep
    [ { Name = "RNN tanh, features, 1 layer, per step, linear"
        Spec = model Cells.rnnTanh (InputEncoding.Features 3) 5 1 false per [] 4 ce; Probabilities = false }
      { Name = "RNN relu, features, 2 layers, bidirectional, per sequence, linear"
        Spec = model Cells.rnnRelu (InputEncoding.Features 3) 5 2 true last [] 4 ce; Probabilities = false }
      { Name = "RNN relu, embedding, 1 layer, per step, softmax"
        Spec = model Cells.rnnRelu (InputEncoding.Embedding(9, 4)) 6 1 false per [] 9 ce; Probabilities = true }
      { Name = "RNN tanh, one-hot, 2 layers, bidirectional, per step, MLP"
        Spec = model Cells.rnnTanh (InputEncoding.OneHot 7) 4 2 true per [ 6 ] 7 ce; Probabilities = false }
      { Name = "LSTM, embedding, 1 layer, per step, linear, softmax"
        Spec = model Cells.lstm (InputEncoding.Embedding(11, 5)) 8 1 false per [] 11 ce; Probabilities = true }
      { Name = "LSTM, one-hot, 2 layers, bidirectional, per step, MLP, softmax"
        Spec = model Cells.lstm (InputEncoding.OneHot 6) 5 2 true per [ 8 ] 6 ce; Probabilities = true }
      { Name = "LSTM, features, 2 layers, per sequence, MLP of two layers, mean squared error"
        Spec = model Cells.lstm (InputEncoding.Features 2) 6 2 false last [ 7; 5 ] 3 Loss.MeanSquaredError; Probabilities = false }
      { Name = "LSTM, features, 1 layer, bidirectional, per sequence, linear, Huber forecast"
        Spec = model Cells.lstm (InputEncoding.Features 1) 7 1 true last [] 4 (Loss.Huber 1.0); Probabilities = false }
      { Name = "LSTM, embedding, 2 layers, bidirectional, per sequence, MLP, softmax"
        Spec = model Cells.lstm (InputEncoding.Embedding(8, 3)) 4 2 true last [ 6 ] 3 ce; Probabilities = true }
      { Name = "GRU, embedding, 1 layer, bidirectional, per sequence, linear, softmax"
        Spec = model Cells.gru (InputEncoding.Embedding(10, 4)) 6 1 true last [] 3 ce; Probabilities = true }
      { Name = "GRU, one-hot, 2 layers, per step, linear"
        Spec = model Cells.gru (InputEncoding.OneHot 5) 7 2 false per [] 5 ce; Probabilities = false }
      { Name = "GRU, features, 2 layers, bidirectional, per step, MLP, multi-label with the logistic function"
        Spec = model Cells.gru (InputEncoding.Features 4) 5 2 true per [ 6 ] 3 Loss.BinaryCrossEntropy; Probabilities = true }
      { Name = "GRU, features, 1 layer, per sequence, MLP, multi-label scores"
        Spec = model Cells.gru (InputEncoding.Features 3) 6 1 false last [ 4 ] 2 Loss.BinaryCrossEntropy; Probabilities = false }
      { Name = "RNN tanh, features, 1 layer, bidirectional, per sequence, mean absolute error"
        Spec = model Cells.rnnTanh (InputEncoding.Features 2) 5 1 true last [] 2 Loss.MeanAbsoluteError; Probabilities = false }
      // Bias-free cells (PyTorch's bias=False) are written with zero biases.
      { Name = "LSTM without biases, embedding, 2 layers, bidirectional, per step, linear"
        Spec = model (Cells.withoutBias CellKind.Lstm) (InputEncoding.Embedding(7, 3)) 5 2 true per [] 7 ce; Probabilities = false }
      { Name = "GRU without biases, features, 1 layer, per sequence, softmax"
        Spec = model (Cells.withoutBias CellKind.Gru) (InputEncoding.Features 3) 4 1 false last [] 3 ce; Probabilities = true }
      { Name = "RNN relu without biases, one-hot, 1 layer, bidirectional, per step, MLP"
        Spec = model (Cells.withoutBias CellKind.RnnRelu) (InputEncoding.OneHot 5) 4 1 true per [ 3 ] 5 ce; Probabilities = false } ]

/// (batch, time) of the inputs each configuration runs: one step of one sequence, and longer batches; the
/// exported graph has symbolic batch and time, so one file serves them all.
let private shapes = [ 1, 1; 3, 7; 2, 16 ]

/// Seeded random inputs: token ids in [0, vocabulary), or features uniform in (−2, 2) rounded to float32 so
/// that RnnAd and a float32 graph read the same numbers.
let private batchFor (spec: ModelSpec) (seed: int) (batch: int) (time: int) : Minibatch =
    let input =
        match spec.Input with
        | InputEncoding.OneHot v
        | InputEncoding.Embedding (v, _) ->
            let random = Random(seed)
            SequenceInput.Tokens(Array.init (batch * time) (fun _ -> random.Next v))
        | InputEncoding.Features f ->
            let values = (Check.uniform seed -2.0 2.0 [| batch; time; f |]).ToArray() |> Array.map (float32 >> float)
            SequenceInput.Features(Tensor.OfArray([| batch; time; f |], values))
    { Input = input; Batch = batch; Time = time; Mask = None; Targets = Targets.None }

/// RnnAd's outputs for a batch, with softmax or the logistic function worked here (not by the library) when
/// the export adds them.
let expected (c: Configuration) (ps: NamedTensors) (batch: Minibatch) : float[] =
    let outputs = (fst (SequenceModel.forward c.Spec ps RnnAd.FSharp.RunOptions.Default batch)).ToArray()
    match c.Spec.Loss, c.Probabilities with
    | Loss.CrossEntropy _, true ->
        outputs |> Array.chunkBySize c.Spec.Outputs |> Array.collect (fun row ->
            let m = Array.max row
            let e = row |> Array.map (fun z -> exp (z - m))
            e |> Array.map (fun v -> v / Array.sum e))
    | Loss.BinaryCrossEntropy, true -> outputs |> Array.map (fun z -> 1.0 / (1.0 + exp -z))
    | _ -> outputs

/// The real steps of each sequence of a batch whose mask holds 1s then 0s (all of them without a mask).
let private lengthsOf (batch: Minibatch) : int64[] =
    Array.init batch.Batch (fun b ->
        match batch.Mask with
        | Some m -> m.[b * batch.Time .. (b + 1) * batch.Time - 1] |> Array.sum |> int64
        | None -> int64 batch.Time)

/// Runs an exported graph on a batch in ONNX Runtime (with its lengths if `lengths`); returns the output's
/// values (as float64) and shape.
let runOnnxWith (lengths: bool) (session: InferenceSession) (spec: ModelSpec) (precision: OnnxFloat) (batch: Minibatch) : float[] * int64[] =
    use input =
        match batch.Input, precision with
        | SequenceInput.Tokens ids, _ -> OrtValue.CreateTensorValueFromMemory(Array.map int64 ids, [| int64 batch.Batch; int64 batch.Time |])
        | SequenceInput.Features x, OnnxFloat.Float32 -> OrtValue.CreateTensorValueFromMemory(x.ToArray() |> Array.map float32, Array.map int64 x.Shape)
        | SequenceInput.Features x, OnnxFloat.Float64 -> OrtValue.CreateTensorValueFromMemory(x.ToArray(), Array.map int64 x.Shape)
    use lengthsValue = OrtValue.CreateTensorValueFromMemory(lengthsOf batch, [| int64 batch.Batch |])
    use options = new Microsoft.ML.OnnxRuntime.RunOptions()
    let outputName = session.OutputNames.[0]
    let names, values = if lengths then [| Onnx.inputName spec; Onnx.lengthsName |], [| input; lengthsValue |] else [| Onnx.inputName spec |], [| input |]
    use results = session.Run(options, names, values, [| outputName |])
    let output = results.[0]
    let values =
        match precision with
        | OnnxFloat.Float32 -> output.GetTensorDataAsSpan<float32>().ToArray() |> Array.map float
        | OnnxFloat.Float64 -> output.GetTensorDataAsSpan<float>().ToArray()
    values, output.GetTensorTypeAndShape().Shape

/// Runs an exported graph without lengths.
let runOnnx (session: InferenceSession) (spec: ModelSpec) (precision: OnnxFloat) (batch: Minibatch) : float[] * int64[] =
    runOnnxWith false session spec precision batch

/// |a − b| / max(|a|, |b|, floor) over all entries: the worst, and where.
let worst (floor: float) (expected: float[]) (actual: float[]) : float * int =
    Array.map2 (fun e a -> abs (e - a) / max floor (max (abs e) (abs a))) expected actual
    |> Array.indexed |> Array.maxBy (fun (_, r) -> if Double.IsNaN r then infinity else r) |> fun (i, r) -> r, i

/// Exports a configuration, runs it in ONNX Runtime on every shape and compares with RnnAd: fails when an
/// entry's relative difference (with `floor`) exceeds `tolerance`.
let private agreement (precision: OnnxFloat) (tolerance: float) (floor: float) (index: int) (c: Configuration) : unit =
    let ps = SequenceModel.init c.Spec (100 + index)
    let bytes = Onnx.toBytes c.Spec ps { Precision = precision; Probabilities = c.Probabilities; SequenceLengths = false }
    use session = new InferenceSession(bytes)
    for b, t in shapes do
        let batch = batchFor c.Spec (1000 * index + 10 * b + t) b t
        let want = expected c ps batch
        let got, shape = runOnnx session c.Spec precision batch
        Expect.equal shape (Array.map int64 (SequenceModel.outputShape c.Spec batch)) (sprintf "%s, batch %d time %d: output shape" c.Name b t)
        let r, at = worst floor want got
        if not (r <= tolerance) then
            failtestf "%s (%A), batch %d time %d: entry %d is %.9g in ONNX Runtime, %.9g in RnnAd (relative difference %.3g > %g)"
                c.Name precision b t at got.[at] want.[at] r tolerance

/// float32: 1e-5 relative, with a floor of 0.1 (entries below 0.1 in magnitude are held to 1e-6 absolute).
/// The graph computes in float32 (ONNX Runtime's kernels) what RnnAd computes in float64, from weights
/// rounded to float32. Every output is a sum of terms of order 1 (hidden states in (−1, 1) times weights, the
/// gates' sums before them), each rounded at ~6e-8 relative, so an output's absolute error is ~1e-7 whatever
/// its own size: outputs near 0 made by cancellation differ by up to 8.3e-5 relative to themselves
/// (measured), which says nothing about the export. Measured over these configurations: worst 7.1e-7 with
/// the floor (6.4e-7 with lengths).
let float32Tolerance, float32Floor = 1e-5, 0.1

/// float64: 1e-12 relative (floor 1e-12, so purely relative for every entry but exact zeros). ONNX Runtime's
/// double kernels and RnnAd's sum the same products in other orders and use other tanh and logistic
/// functions (each within a few ulp), ~1e-16 per operation; the recurrence carries that over the steps.
/// Measured: worst 1.5e-13 (7.0e-15 with lengths).
let float64Tolerance, float64Floor = 1e-12, 1e-12

/// A test of every configuration in each precision, with that precision's tolerance and floor.
let private everyConfiguration (name: string) (check: OnnxFloat -> float -> float -> int -> Configuration -> unit) : Test =
    testList name [
        for index, c in List.indexed configurations do
            test (sprintf "float32: %s" c.Name) { check OnnxFloat.Float32 float32Tolerance float32Floor index c }
            test (sprintf "float64: %s" c.Name) { check OnnxFloat.Float64 float64Tolerance float64Floor index c }
    ]

[<Tests>]
let agreementTests = everyConfiguration "Interop/ONNX export agrees with RnnAd in ONNX Runtime" agreement

/// The entries of outputs that belong to real steps: all of a per-sequence head's, a per-step head's at the
/// steps the batch's mask keeps (outputs at padded steps mean nothing).
let atRealSteps (spec: ModelSpec) (batch: Minibatch) (values: float[]) : float[] =
    match spec.Head, batch.Mask with
    | HeadKind.PerStep, Some mask -> values |> Array.indexed |> Array.filter (fun (i, _) -> mask.[i / spec.Outputs] = 1.0) |> Array.map snd
    | _ -> values

/// Lengths with end padding: the whole sequence, one step, and in between; per-sequence outputs are compared
/// whole, per-step ones at the real steps (those at padded steps mean nothing).
let private paddedAgreement (precision: OnnxFloat) (tolerance: float) (floor: float) (index: int) (c: Configuration) : unit =
    let ps = SequenceModel.init c.Spec (200 + index)
    use session = new InferenceSession(Onnx.toBytes c.Spec ps { Precision = precision; Probabilities = c.Probabilities; SequenceLengths = true })
    let lengths = [| 9; 1; 5; 3 |]
    let batch = { batchFor c.Spec (300 + index) lengths.Length 9 with Mask = Some(Array.init 36 (fun i -> if i % 9 < lengths.[i / 9] then 1.0 else 0.0)) }
    let got, _ = runOnnxWith true session c.Spec precision batch
    let r, at = worst floor (atRealSteps c.Spec batch (expected c ps batch)) (atRealSteps c.Spec batch got)
    if not (r <= tolerance) then
        failtestf "%s (%A) with lengths %A: real entry %d differs by %.3g relative (tolerance %g)" c.Name precision lengths at r tolerance

[<Tests>]
let lengthsTests = everyConfiguration "Interop/ONNX export with sequence lengths agrees with RnnAd's end-padding masks" paddedAgreement

/// A small model of a cell: 3 features, hidden 4, 1 layer, per step, linear head.
let private small (cell: Cell) = model cell (InputEncoding.Features 3) 4 1 false HeadKind.PerStep [] 2 Loss.MeanSquaredError

[<Tests>]
let sensitivityTests =
    testList "Interop/ONNX export comparisons notice a wrong gate" [
        // A gate block placed in the wrong order would move a weight from one gate to another; the comparison
        // must notice a change of one weight in any gate block, or it could not notice that.
        for cell in [ Cells.lstm; Cells.gru; Cells.rnnTanh ] do
            test (sprintf "%s: one weight of any gate block changed by 0.05 exceeds the float32 tolerance" cell.Name) {
                let spec = small cell
                let ps = SequenceModel.init spec 5
                use session = new InferenceSession(Onnx.toBytes spec ps OnnxOptions.Default)
                let batch = batchFor spec 6 2 5
                let got, _ = runOnnx session spec OnnxFloat.Float32 batch
                let c = { Name = cell.Name; Spec = spec; Probabilities = false }
                let r, _ = worst float32Floor (expected c ps batch) got
                Expect.isLessThanOrEqual r float32Tolerance "the export itself agrees"
                let rows = ps.["rnn.weight_ih_l0"].Shape.[0]
                for block in 0 .. rows / 4 - 1 do
                    let changed = ps.["rnn.weight_ih_l0"].ToArray()
                    changed.[block * 4 * 3] <- changed.[block * 4 * 3] + 0.05
                    let perturbed = NamedTensors(ps.Entries |> Array.map (fun (n, t) -> n, (if n = "rnn.weight_ih_l0" then Tensor.OfArray(t.Shape, changed) else t)))
                    let r, _ = worst float32Floor (expected c perturbed batch) got
                    Expect.isGreaterThan r float32Tolerance (sprintf "a change in gate block %d is noticed" block)
            }
    ]

[<Tests>]
let refusalTests =
    testList "Interop/ONNX export refuses what ONNX cannot express" [
        test "a custom cell is refused, naming it" {
            let echo =
                Cell.create "Echo" [ Cell.parameter "weight_ih" (fun input hidden -> [| hidden; input |]) ] 1
                    (fun p _ x -> CellState.Of(tanh (Nn.linearNoBias p.["weight_ih"] x)))
            let spec = small echo
            Check.throwsWith [ "cannot export to ONNX"; "'Echo'"; "custom cell" ] (fun () -> Onnx.toBytes spec (SequenceModel.init spec 1) OnnxOptions.Default)
        }

        test "probabilities of a regression model or a custom loss are refused, naming the loss" {
            let spec = small Cells.lstm
            let options = { OnnxOptions.Default with Probabilities = true }
            Check.throwsWith [ "mse"; "regression"; "no softmax" ] (fun () -> Onnx.toBytes spec (SequenceModel.init spec 1) options)
            let custom = { spec with Loss = Loss.Custom { Name = "mine"; Targets = TargetKind.Classes; Compute = fun o _ _ -> o.Sum() } }
            Check.throwsWith [ "'mine'"; "probabilities" ] (fun () -> Onnx.toBytes custom (SequenceModel.init custom 1) options)
            // Its raw outputs export.
            Expect.isNonEmpty (Onnx.toBytes custom (SequenceModel.init custom 1) OnnxOptions.Default) "raw outputs of a custom loss"
        }

        test "a weight that is not finite is refused, and one beyond float32's range only in float32" {
            let spec = small Cells.gru
            let ps = SequenceModel.init spec 1
            let withEntry (value: float) =
                NamedTensors(ps.Entries |> Array.map (fun (n, t) ->
                    n, (if n = "rnn.weight_hh_l0" then Tensor.OfArray(t.Shape, Array.updateAt 7 value (t.ToArray())) else t)))
            Check.throwsWith [ "'rnn.weight_hh_l0'"; "NaN"; "index 7"; "finite" ] (fun () -> Onnx.toBytes spec (withEntry nan) OnnxOptions.Default)
            Check.throwsWith [ "'rnn.weight_hh_l0'"; "1e+39"; "float32" ] (fun () -> Onnx.toBytes spec (withEntry 1e39) OnnxOptions.Default)
            Expect.isNonEmpty (Onnx.toBytes spec (withEntry 1e39) { OnnxOptions.Default with Precision = OnnxFloat.Float64 }) "float64 holds it"
        }

        test "parameters that do not fit the spec are refused, naming the parameter" {
            let spec = small Cells.lstm
            let ps = SequenceModel.init spec 1
            let missing = NamedTensors(ps.Entries |> Array.filter (fun (n, _) -> n <> "fc.bias"))
            Check.throwsWith [ "fc.bias" ] (fun () -> Onnx.toBytes spec missing OnnxOptions.Default)
        }
    ]

[<Tests>]
let protobufTests =
    testList "Interop/protobuf wire format" [
        test "the encodings of the Protocol Buffers encoding guide's examples" {
            let bytes (write: RnnAd.FSharp.Interop.ProtoWriter -> unit) =
                use w = new RnnAd.FSharp.Interop.ProtoWriter()
                write w
                w.Written.ToArray()
            // Field 1 = 150: key 0x08 (field 1, varint), then 150 as the varint 0x96 0x01.
            Expect.equal (bytes (fun w -> w.Int64(1, 150L))) [| 0x08uy; 0x96uy; 0x01uy |] "a varint field"
            // Field 2 = "testing": key 0x12 (field 2, length-delimited), length 7, the UTF-8 bytes.
            Expect.equal (bytes (fun w -> w.String(2, "testing"))) (Array.append [| 0x12uy; 0x07uy |] "testing"B) "a string field"
            // Field 3 = a message holding field 1 = 150: key 0x1a, length 3, the message's bytes.
            Expect.equal (bytes (fun w -> w.Message(3, fun m -> m.Int64(1, 150L)))) [| 0x1auy; 0x03uy; 0x08uy; 0x96uy; 0x01uy |] "a nested message"
            // A negative int64 is its two's complement as ten varint bytes.
            Expect.equal (bytes (fun w -> w.Int64(1, -1L))) (Array.concat [ [| 0x08uy |]; Array.create 9 0xffuy; [| 0x01uy |] ]) "-1"
        }
    ]

[<Tests>]
let fileTests =
    testList "Interop/ONNX files" [
        test "ONNX Runtime reads the inputs, outputs and description back" {
            let spec = model Cells.lstm (InputEncoding.Embedding(12, 4)) 6 2 true HeadKind.PerStep [ 5 ] 12 Loss.crossEntropy
            use session = new InferenceSession(Onnx.toBytes spec (SequenceModel.init spec 3) { OnnxOptions.Default with Probabilities = true })
            let input = session.InputMetadata.["tokens"]
            Expect.equal (List.ofSeq session.InputMetadata.Keys) [ "tokens" ] "one input, the token ids"
            Expect.equal input.ElementType typeof<int64> "int64 ids"
            Expect.equal input.Dimensions [| -1; -1 |] "batch and time are symbolic"
            Expect.equal input.SymbolicDimensions [| "batch"; "time" |] "named batch and time"
            Expect.equal (List.ofSeq session.OutputMetadata.Keys) [ "probabilities" ] "one output, the probabilities"
            let output = session.OutputMetadata.["probabilities"]
            Expect.equal output.ElementType typeof<float32> "float32"
            Expect.equal output.Dimensions [| -1; -1; 12 |] "(batch, time, classes)"
            Expect.equal session.ModelMetadata.ProducerName "RnnAd" "producer"
            Expect.equal session.ModelMetadata.GraphName "rnnad" "graph name"
            Expect.stringContains session.ModelMetadata.Description "LSTM, 2 layers of 6, bidirectional" "the description says what the model is"
            Expect.stringContains session.ModelMetadata.Description "class probabilities (softmax)" "and what it outputs"
            let features = model Cells.gru (InputEncoding.Features 3) 4 1 false HeadKind.LastStep [] 2 Loss.MeanSquaredError
            use session = new InferenceSession(Onnx.toBytes features (SequenceModel.init features 3) { OnnxOptions.Default with Precision = OnnxFloat.Float64 })
            Expect.equal session.InputMetadata.["features"].Dimensions [| -1; -1; 3 |] "(batch, time, features)"
            Expect.equal session.InputMetadata.["features"].ElementType typeof<float> "float64 features"
            Expect.equal session.OutputMetadata.["outputs"].Dimensions [| -1; 2 |] "(batch, outputs) per sequence"
            use session = new InferenceSession(Onnx.toBytes features (SequenceModel.init features 3) { OnnxOptions.Default with SequenceLengths = true })
            Expect.equal (List.ofSeq session.InputMetadata.Keys) [ "features"; "lengths" ] "the lengths follow the features"
            Expect.equal session.InputMetadata.["lengths"].ElementType typeof<int64> "int64 lengths"
            Expect.equal session.InputMetadata.["lengths"].SymbolicDimensions [| "batch" |] "one per sequence"
        }

        test "a file is written atomically with the bytes of toBytes, the same for the same model; a refused model writes nothing" {
            TempFolder.run (fun folder ->
                let spec = small Cells.rnnRelu
                let ps = SequenceModel.init spec 2
                let path = Path.Combine(folder, "model.onnx")
                File.WriteAllText(path, "an older file")
                Onnx.exportFile spec ps OnnxOptions.Default path
                Expect.equal (File.ReadAllBytes path) (Onnx.toBytes spec ps OnnxOptions.Default) "the file holds the model"
                Expect.equal (Onnx.toBytes spec ps OnnxOptions.Default) (Onnx.toBytes spec ps OnnxOptions.Default) "deterministic bytes"
                Expect.equal (Directory.GetFiles folder) [| path |] "no temporary file is left behind"
                let refused = Path.Combine(folder, "refused.onnx")
                Check.throwsWith [ "regression" ] (fun () -> Onnx.exportFile spec ps { OnnxOptions.Default with Probabilities = true } refused)
                Expect.isFalse (File.Exists refused) "nothing written for a refused model")
        }

        test "a directory is never written over" {
            TempFolder.run (fun folder ->
                let spec = small Cells.gru
                let target = Path.Combine(folder, "dir.onnx")
                Directory.CreateDirectory target |> ignore
                TempFolder.throws<IOException, _> [ "cannot write ONNX file"; "directory" ] (fun () ->
                    Onnx.exportFile spec (SequenceModel.init spec 1) OnnxOptions.Default target)
                Expect.isTrue (Directory.Exists target) "the directory is left alone")
        }
    ]
