namespace RnnAd.FSharp

open System
open System.Buffers.Binary
open System.IO
open System.Reflection
open RnnAd
open RnnAd.FSharp.Files
open RnnAd.FSharp.Interop

/// The element type of an exported ONNX graph's inputs, weights and outputs.
[<RequireQualifiedAccess>]
type OnnxFloat =
    /// float32 (ONNX `tensor(float)`): weights rounded to the nearest float32.
    | Float32
    /// float64 (ONNX `tensor(double)`): weights exactly as RnnAd holds them; the recurrent layers are `Scan`
    /// loops over the cell's step, since ONNX Runtime has no double kernels for ONNX's RNN, LSTM and GRU.
    | Float64

/// How `Onnx.export` writes a model.
type OnnxOptions =
    { /// The element type of the graph.
      Precision: OnnxFloat
      /// Output probabilities instead of the head's raw outputs: the softmax of the class scores for a
      /// cross-entropy model, the logistic function of each output for a binary cross-entropy (multi-label) one.
      Probabilities: bool
      /// Add the input `lengths` (int64, batch): how many steps of each sequence are real, the rest being
      /// padding at the end, as a mask of 1s then 0s says in RnnAd. Per-sequence outputs, and per-step outputs
      /// at real steps, are then RnnAd's for that mask; outputs at padded steps mean nothing. Without it every
      /// step of every sequence is read.
      SequenceLengths: bool }

    /// float32, raw outputs, no lengths.
    static member Default = { Precision = OnnxFloat.Float32; Probabilities = false; SequenceLengths = false }

/// Export of sequence models to ONNX, the open format of neural networks that ONNX Runtime and other engines
/// run. The graph uses the operator set `Onnx.opset` of the default domain: the input encoding (`Gather` from
/// the embedding table, or `OneHot`), the recurrent stack (in float32 ONNX's own `RNN`, `LSTM` and `GRU`
/// operators, one node per layer with both directions in it; in float64 `Scan` loops over the cell's step, as
/// ONNX Runtime has no double kernels for those operators), `MatMul` and `Add` (and `Relu` between the layers
/// of an MLP) for the head, and optionally `Softmax` or `Sigmoid`. Inputs are batch-first, as RnnAd's: token ids
/// `tokens` int64 (batch, time), or `features` (batch, time, size); the output `outputs` (or `probabilities`)
/// is (batch, time, outputs) for a per-step head and (batch, outputs) for a per-sequence one. Batch and time
/// are symbolic dimensions, so one file runs any batch of any length. Padding at the end of sequences is
/// expressed by an optional input `lengths` (ONNX's `sequence_lens`); other padding patterns are not.
[<RequireQualifiedAccess>]
module Onnx =

    /// The ONNX operator set the graphs follow (ai.onnx 17; ONNX 1.12 and later read it, ONNX Runtime since 1.12).
    [<Literal>]
    let opset = 17L

    /// The ONNX IR (file format) version that goes with operator set 17.
    [<Literal>]
    let irVersion = 8L

    /// The name of the graph's input: `tokens` for models that read token ids, `features` for the others.
    let inputName (spec: ModelSpec) : string =
        match spec.Input with
        | InputEncoding.Features _ -> "features"
        | InputEncoding.OneHot _
        | InputEncoding.Embedding _ -> "tokens"

    /// The name of the optional input of sequence lengths (`OnnxOptions.SequenceLengths`).
    [<Literal>]
    let lengthsName = "lengths"

    /// The name of the graph's output: `probabilities` when the options ask for them, else `outputs`.
    let outputName (options: OnnxOptions) : string = if options.Probabilities then "probabilities" else "outputs"

    /// The largest model written: protobuf, ONNX's file format, refuses messages of 2 GiB or more, and the
    /// weights are stored inside the file (ONNX's external-data files are not written).
    let private maxBytes = 2_000_000_000L

    /// Why `spec` cannot be exported with `options`, if it cannot: what ONNX's operators cannot express, or
    /// what the options ask of a model that has no such thing.
    let problem (spec: ModelSpec) (options: OnnxOptions) : string option =
        match Cells.tryBuiltIn spec.Cell with
        | None ->
            Some(sprintf "the cell '%s' is a custom cell; ONNX's RNN, LSTM and GRU operators express only the built-in cells (RNN_TANH, RNN_RELU, LSTM, GRU)" spec.Cell.Name)
        | Some _ ->
            match spec.Loss with
            | Loss.CrossEntropy _
            | Loss.BinaryCrossEntropy -> None
            | Loss.Custom c when options.Probabilities ->
                Some(sprintf "the custom loss '%s' does not say how its outputs become probabilities; export the raw outputs (no softmax)" c.Name)
            | loss when options.Probabilities ->
                Some(sprintf "the %s loss makes this a regression model: its outputs are values, not class scores, so they have no probabilities; export the raw outputs (no softmax)" loss.Name)
            | _ -> None

    /// Raises an ArgumentException naming what is at fault unless `spec` can be exported with `options`.
    let check (spec: ModelSpec) (options: OnnxOptions) : unit =
        SequenceModel.validate spec
        problem spec options |> Option.iter (fun message -> invalidArg "spec" (sprintf "cannot export to ONNX: %s" message))

    /// The ONNX element type of a precision, and its bytes per value.
    let private elementType (precision: OnnxFloat) =
        match precision with
        | OnnxFloat.Float32 -> OnnxProto.Float, 4
        | OnnxFloat.Float64 -> OnnxProto.Double, 8

    /// Row-major values as little-endian bytes of the graph's element type (float32: rounded to nearest).
    let private encode (precision: OnnxFloat) (values: float[]) : byte[] =
        let _, size = elementType precision
        let bytes = Array.zeroCreate<byte> (values.Length * size)
        for i in 0 .. values.Length - 1 do
            match precision with
            | OnnxFloat.Float64 -> BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(i * 8), values.[i])
            | OnnxFloat.Float32 -> BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), float32 values.[i])
        bytes

    /// Raises an ArgumentException naming the parameter and the entry unless every weight is finite and, in
    /// float32, within float32's range: the graph would compute NaN or infinity where RnnAd computes numbers.
    let private checkWeights (spec: ModelSpec) (ps: NamedTensors) (precision: OnnxFloat) : unit =
        for name, _ in SequenceModel.expectedShapes spec do
            let values = ps.[name].Value.AsSpan()
            for i in 0 .. values.Length - 1 do
                let v = values.[i]
                if not (Double.IsFinite v) then
                    invalidArg "parameters" (sprintf "cannot export to ONNX: parameter '%s' holds %g at flat index %d; every weight must be finite" name v i)
                if precision = OnnxFloat.Float32 && Single.IsInfinity(float32 v) then
                    invalidArg "parameters" (sprintf "cannot export to ONNX: parameter '%s' holds %g at flat index %d, beyond float32's range (±3.4e38); export in float64" name v i)

    /// PyTorch's stacked gate blocks reordered into ONNX's: row block k of the result is block `order.[k]` of
    /// `rows` (gates · hidden rows of `columns` values each, row-major).
    let private reorderGates (order: int[]) (hidden: int) (columns: int) (rows: float[]) : float[] =
        let block = hidden * columns
        Array.init (order.Length * block) (fun i -> rows.[order.[i / block] * block + i % block])

    /// Where each of ONNX's gate blocks sits in PyTorch's order. LSTM: ONNX i, o, f, c from PyTorch i, f, g, o.
    /// GRU: ONNX z, r, h from PyTorch r, z, n. RNN: one block.
    let private gateOrder (kind: CellKind) : int[] =
        match kind with
        | CellKind.Lstm -> [| 0; 3; 1; 2 |]
        | CellKind.Gru -> [| 1; 0; 2 |]
        | CellKind.RnnTanh
        | CellKind.RnnRelu -> [| 0 |]

    /// A model's constants, shared by its graph and the subgraphs inside it (a subgraph reads the outer
    /// graph's values by name), with a count of their bytes.
    type private Constants(precision: OnnxFloat) =
        let tensors = ResizeArray<OnnxTensor>()
        let mutable bytes = 0L

        /// Adds a tensor; returns its name.
        member _.Add(name: string, dataType: int, dims: int list, raw: byte[]) : string =
            bytes <- bytes + int64 raw.Length
            if bytes > maxBytes then
                invalidArg "parameters" (sprintf "cannot export to ONNX: the weights take more than %d bytes, and an ONNX file (one protobuf message) holds less than 2 GiB" maxBytes)
            tensors.Add { Name = name; DataType = dataType; Dims = dims |> List.map int64 |> Array.ofList; Raw = raw }
            name

        /// The graph's element type code.
        member _.DataType = fst (elementType precision)

        /// The precision the weights are encoded in.
        member _.Precision = precision

        /// The tensors, in the order they were added.
        member _.Tensors = List.ofSeq tensors

    /// A graph under construction: nodes in the order they are added (each reads only values made before it,
    /// so the order is topological), named after their operator and a count, after `prefix` (a subgraph's
    /// names must differ from every name outside it).
    type private GraphBuilder(constants: Constants, prefix: string) =
        let nodes = ResizeArray<OnnxNode>()
        let mutable count = 0

        /// The graph's element type code.
        member _.DataType = constants.DataType

        /// The precision of the graph's values.
        member _.Precision = constants.Precision

        /// A builder of a subgraph sharing this one's constants.
        member _.Subgraph(prefix: string) = GraphBuilder(constants, prefix)

        /// A name for a value of this graph.
        member _.Name(name: string) = prefix + name

        /// Adds a node; returns the names of its `outputs` outputs, named after the node.
        member _.Node(opType: string, inputs: string list, attributes: OnnxAttribute list, ?outputs: int) : string[] =
            count <- count + 1
            let name = sprintf "%s%s_%d" prefix opType count
            let outputNames = Array.init (defaultArg outputs 1) (fun i -> sprintf "%s_out%d" name i)
            nodes.Add { Name = name; OpType = opType; Inputs = Array.ofList inputs; Outputs = outputNames; Attributes = attributes }
            outputNames

        /// Adds a node with one output; returns its name.
        member b.Op(opType: string, inputs: string list, ?attributes: OnnxAttribute list) : string =
            (b.Node(opType, inputs, defaultArg attributes [])).[0]

        /// Gives a value another name (an output of the graph).
        member b.Rename(value: string, name: string) : unit =
            count <- count + 1
            nodes.Add { Name = sprintf "%sIdentity_%d" prefix count; OpType = "Identity"; Inputs = [| value |]; Outputs = [| name |]; Attributes = [] }

        /// Adds a constant of the graph's element type; returns its name.
        member _.Weights(name: string, dims: int list, values: float[]) : string =
            constants.Add(name, constants.DataType, dims, encode constants.Precision values)

        /// Adds an int64 constant; returns its name.
        member _.Int64s(name: string, dims: int list, values: int64[]) : string =
            let raw = Array.zeroCreate<byte> (values.Length * 8)
            values |> Array.iteri (fun i v -> BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * 8), v))
            constants.Add(name, OnnxProto.Int64, dims, raw)

        /// Adds a float32 constant whatever the graph's element type; returns its name.
        member _.Float32s(name: string, dims: int list, values: float32[]) : string =
            let raw = Array.zeroCreate<byte> (values.Length * 4)
            values |> Array.iteri (fun i v -> BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * 4), v))
            constants.Add(name, OnnxProto.Float, dims, raw)

        /// The nodes, in topological order.
        member _.Nodes = List.ofSeq nodes

    let private ints (name: string) (values: int list) = OnnxAttribute.Ints(name, values |> List.map int64 |> Array.ofList)
    let private perm (values: int list) = ints "perm" values
    let private axis (value: int) = OnnxAttribute.Int("axis", int64 value)

    /// The transpose of a row-major (rows, columns) matrix.
    let private transpose (rows: int) (columns: int) (values: float[]) : float[] =
        Array.init values.Length (fun k -> values.[(k % rows) * columns + k / rows])

    /// The input encoded as (batch, time, input size), or time-major (time, batch, input size) when
    /// `timeMajor`, as ONNX's recurrent operators read it.
    let private encodeInput (b: GraphBuilder) (timeMajor: bool) (spec: ModelSpec) (ps: NamedTensors) : string =
        let ids () = if timeMajor then b.Op("Transpose", [ "tokens" ], [ perm [ 1; 0 ] ]) else "tokens"
        match spec.Input with
        | InputEncoding.Features _ -> if timeMajor then b.Op("Transpose", [ "features" ], [ perm [ 1; 0; 2 ] ]) else "features"
        | InputEncoding.Embedding (v, d) ->
            let table = b.Weights("embedding.weight", [ v; d ], ps.["embedding.weight"].ToArray())
            b.Op("Gather", [ table; ids () ], [ axis 0 ])
        | InputEncoding.OneHot v ->
            let depth = b.Int64s("one_hot.depth", [ 1 ], [| int64 v |])
            // OneHot's output has the type of its (off, on) values. ONNX Runtime's OneHot makes float32 from int64
            // ids, not double, so a float64 graph casts the float32 one-hot vectors (0 and 1 are exact in both).
            let values = b.Float32s("one_hot.values", [ 2 ], [| 0.0f; 1.0f |])
            let oneHot = b.Op("OneHot", [ ids (); depth; values ], [ axis -1 ])
            if b.DataType = OnnxProto.Float then oneHot else b.Op("Cast", [ oneHot ], [ OnnxAttribute.Int("to", int64 b.DataType) ])

    /// One layer's weights as ONNX's operators stack them: W (directions, gates · hidden, input), R
    /// (directions, gates · hidden, hidden) and B (directions, 2 · gates · hidden), W's bias then R's, gate
    /// blocks in ONNX's order.
    let private layerWeights (b: GraphBuilder) (spec: ModelSpec) (kind: CellKind) (ps: NamedTensors) (layer: int) : string * string * string =
        let r = SequenceModel.recurrentSpec spec
        let h = spec.HiddenSize
        let input = Recurrent.layerInputSize r layer
        let order = gateOrder kind
        let gates = order.Length
        let read name direction = ps.[sprintf "rnn.%s%s" name (Recurrent.suffix layer direction)].ToArray()
        let stack (f: int -> float[]) = Array.init r.Directions f |> Array.concat
        let w = stack (fun d -> reorderGates order h input (read "weight_ih" d))
        let rr = stack (fun d -> reorderGates order h h (read "weight_hh" d))
        let bias = stack (fun d -> Array.append (reorderGates order h 1 (read "bias_ih" d)) (reorderGates order h 1 (read "bias_hh" d)))
        b.Weights(sprintf "rnn.W_l%d" layer, [ r.Directions; gates * h; input ], w),
        b.Weights(sprintf "rnn.R_l%d" layer, [ r.Directions; gates * h; h ], rr),
        b.Weights(sprintf "rnn.B_l%d" layer, [ r.Directions; 2 * gates * h ], bias)

    /// The recurrent stack with ONNX's own RNN, LSTM and GRU operators over time-major inputs, one node per
    /// layer. Returns what the head reads: the top layer's every-step outputs (batch, time, hidden ·
    /// directions) for a per-step head, or its final states, forward ‖ backward, (batch, hidden · directions)
    /// for a per-sequence one (the backward direction's final state is the one after reading step 0, as
    /// RnnAd's).
    let private operatorStack (b: GraphBuilder) (spec: ModelSpec) (kind: CellKind) (ps: NamedTensors) (lengths: bool) (x: string) : string =
        let directions = if spec.Bidirectional then 2 else 1
        let opType, extra =
            match kind with
            | CellKind.Lstm -> "LSTM", []
            // linear_before_reset = 1 applies r to (R_h h + Rb_h), PyTorch's GRU; 0 would apply it to h first.
            | CellKind.Gru -> "GRU", [ OnnxAttribute.Int("linear_before_reset", 1L) ]
            | CellKind.RnnTanh -> "RNN", [ OnnxAttribute.Strings("activations", Array.create directions "Tanh") ]
            | CellKind.RnnRelu -> "RNN", [ OnnxAttribute.Strings("activations", Array.create directions "Relu") ]
        let attributes =
            OnnxAttribute.Int("hidden_size", int64 spec.HiddenSize)
            :: OnnxAttribute.String("direction", (if spec.Bidirectional then "bidirectional" else "forward"))
            :: extra
        // (a, b, directions, hidden) → (a, b, directions · hidden); made only when a layer's outputs are read.
        let joined = lazy (b.Int64s("shape.join_directions", [ 3 ], [| 0L; 0L; -1L |]))
        // ONNX's sequence_lens is int32; it ends each sequence's forward pass early and starts its backward
        // pass at its last real step, as RnnAd's carried state over end padding does.
        let sequenceLens = if lengths then [ b.Op("Cast", [ lengthsName ], [ OnnxAttribute.Int("to", int64 OnnxProto.Int32) ]) ] else []
        let rec layers (layer: int) (input: string) =
            let w, r, bias = layerWeights b spec kind ps layer
            // Y (time, directions, batch, hidden) and Y_h (directions, batch, hidden).
            let outputs = b.Node(opType, [ input; w; r; bias ] @ sequenceLens, attributes, 2)
            match layer = spec.Layers - 1, spec.Head with
            | false, _ ->
                // Time-major again for the next layer: (time, batch, directions · hidden), forward ‖ backward.
                layers (layer + 1) (b.Op("Reshape", [ b.Op("Transpose", [ outputs.[0] ], [ perm [ 0; 2; 1; 3 ] ]); joined.Value ]))
            | true, HeadKind.PerStep -> b.Op("Reshape", [ b.Op("Transpose", [ outputs.[0] ], [ perm [ 2; 0; 1; 3 ] ]); joined.Value ])
            | true, HeadKind.LastStep ->
                let rows = b.Int64s("shape.join_states", [ 2 ], [| 0L; -1L |])
                b.Op("Reshape", [ b.Op("Transpose", [ outputs.[1] ], [ perm [ 1; 0; 2 ] ]); rows ])
        layers 0 x

    /// The graph of one step of a cell, a `Scan` body: inputs h (and c) (batch, hidden) and x (batch, input),
    /// outputs h' (and c') and h' again as the step's output. The equations are RnnAd's (Rnn.fs, Lstm.fs,
    /// Gru.fs) in PyTorch's gate order, with the weights read from the outer graph: x · W_ihᵀ + b_ih and
    /// h · W_hhᵀ + b_hh, then the gates.
    let private stepGraph
        (s: GraphBuilder) (kind: CellKind) (inputSize: int) (hidden: int) (wt: string, rt: string, bih: string, bhh: string) (one: string) (unsqueezeAxes: string option)
        : OnnxGraph =
        let slots = if kind = CellKind.Lstm then [ "h"; "c" ] else [ "h" ]
        let state = slots |> List.map s.Name
        let x = s.Name "x"
        let keep = s.Name "keep"
        let gx = s.Op("Add", [ s.Op("MatMul", [ x; wt ]); bih ])
        let gh = s.Op("Add", [ s.Op("MatMul", [ state.[0]; rt ]); bhh ])
        let next =
            match kind with
            | CellKind.RnnTanh -> [ s.Op("Tanh", [ s.Op("Add", [ gx; gh ]) ]) ]
            | CellKind.RnnRelu -> [ s.Op("Relu", [ s.Op("Add", [ gx; gh ]) ]) ]
            | CellKind.Lstm ->
                let g = s.Node("Split", [ s.Op("Add", [ gx; gh ]) ], [ axis 1 ], 4)
                let i, f, candidate, o = s.Op("Sigmoid", [ g.[0] ]), s.Op("Sigmoid", [ g.[1] ]), s.Op("Tanh", [ g.[2] ]), s.Op("Sigmoid", [ g.[3] ])
                let c' = s.Op("Add", [ s.Op("Mul", [ f; state.[1] ]); s.Op("Mul", [ i; candidate ]) ])
                [ s.Op("Mul", [ o; s.Op("Tanh", [ c' ]) ]); c' ]
            | CellKind.Gru ->
                let xs = s.Node("Split", [ gx ], [ axis 1 ], 3)
                let hs = s.Node("Split", [ gh ], [ axis 1 ], 3)
                let r = s.Op("Sigmoid", [ s.Op("Add", [ xs.[0]; hs.[0] ]) ])
                let z = s.Op("Sigmoid", [ s.Op("Add", [ xs.[1]; hs.[1] ]) ])
                let n = s.Op("Tanh", [ s.Op("Add", [ xs.[2]; s.Op("Mul", [ r; hs.[2] ]) ]) ])
                // (1 − z) ⊙ n + z ⊙ h, grouped as RnnAd computes it.
                [ s.Op("Add", [ s.Op("Mul", [ s.Op("Sub", [ one; z ]); n ]); s.Op("Mul", [ z; state.[0] ]) ]) ]
        // At a padded step (keep false) every slot carries the old state over, as RnnAd's masks do.
        let next =
            match unsqueezeAxes with
            | Some axes ->
                let column = s.Op("Unsqueeze", [ keep; axes ])
                List.map2 (fun n old -> s.Op("Where", [ column; n; old ])) next state
            | None -> next
        let outputs = (slots |> List.map (fun slot -> s.Name(slot + "_next"))) @ [ s.Name "y" ]
        List.iter2 (fun value name -> s.Rename(value, name)) (next @ [ next.[0] ]) outputs
        let value name width = { Name = name; DataType = s.DataType; Shape = [| OnnxDim.Symbolic "batch"; OnnxDim.Fixed(int64 width) |] }
        let mask = if unsqueezeAxes.IsSome then [ { Name = keep; DataType = OnnxProto.Bool; Shape = [| OnnxDim.Symbolic "batch" |] } ] else []
        { Name = s.Name "step"
          Doc = ""
          Nodes = s.Nodes
          Initializers = []
          Inputs = (state |> List.map (fun n -> value n hidden)) @ [ value x inputSize ] @ mask
          Outputs = outputs |> List.map (fun n -> value n hidden) }

    /// The recurrent stack as ONNX `Scan` loops over batch-first inputs, one per layer and direction, each
    /// running the cell's step written with elementary operators (`stepGraph`); the backward direction scans
    /// in reverse and writes its outputs back in time order. Returns what the head reads, as `operatorStack`.
    let private scanStack (b: GraphBuilder) (spec: ModelSpec) (kind: CellKind) (ps: NamedTensors) (lengths: bool) (x: string) : string =
        let r = SequenceModel.recurrentSpec spec
        let h = spec.HiddenSize
        let rows = Checked.(*) kind.Gates h
        let slots = if kind = CellKind.Lstm then 2 else 1
        // The zero initial state (batch, hidden), batch read from the input's shape at run time.
        let batch = b.Op("Gather", [ b.Op("Shape", [ inputName spec ]); b.Int64s("index.batch", [ 1 ], [| 0L |]) ], [ axis 0 ])
        let stateShape = b.Op("Concat", [ batch; b.Int64s("state.hidden", [ 1 ], [| int64 h |]) ], [ axis 0 ])
        let zero = { Name = ""; DataType = b.DataType; Dims = [| 1L |]; Raw = encode b.Precision [| 0.0 |] }
        let zeros = b.Op("ConstantOfShape", [ stateShape ], [ OnnxAttribute.Tensor("value", zero) ])
        let one = if kind = CellKind.Gru then b.Weights("gru.one", [], [| 1.0 |]) else ""
        // With lengths, a second scanned input: keep (batch, time), true at the real steps (t < length).
        let mask =
            if not lengths then None
            else
                let time = b.Op("Gather", [ b.Op("Shape", [ inputName spec ]); b.Int64s("index.time", [], [| 1L |]) ], [ axis 0 ])
                let steps = b.Op("Range", [ b.Int64s("range.start", [], [| 0L |]); time; b.Int64s("range.delta", [], [| 1L |]) ])
                let axes = b.Int64s("axes.1", [ 1 ], [| 1L |])
                Some(b.Op("Less", [ steps; b.Op("Unsqueeze", [ lengthsName; axes ]) ]), axes)
        let run (layer: int) (direction: int) (input: string) : string[] =
            let inputSize = Recurrent.layerInputSize r layer
            let name p = sprintf "rnn.%s%s" p (Recurrent.suffix layer direction)
            let read p = ps.[name p].ToArray()
            let weights =
                b.Weights(name "weight_ih" + "_transposed", [ inputSize; rows ], transpose rows inputSize (read "weight_ih")),
                b.Weights(name "weight_hh" + "_transposed", [ h; rows ], transpose rows h (read "weight_hh")),
                b.Weights(name "bias_ih", [ rows ], read "bias_ih"),
                b.Weights(name "bias_hh", [ rows ], read "bias_hh")
            let body = stepGraph (b.Subgraph(name "step" + "/")) kind inputSize h weights one (Option.map snd mask)
            let scanned = input :: (mask |> Option.map fst |> Option.toList)
            b.Node("Scan", List.replicate slots zeros @ scanned,
                   [ OnnxAttribute.Graph("body", body)
                     OnnxAttribute.Int("num_scan_inputs", int64 scanned.Length)
                     ints "scan_input_axes" (List.replicate scanned.Length 1)
                     ints "scan_output_axes" [ 1 ]
                     ints "scan_input_directions" (List.replicate scanned.Length direction)
                     ints "scan_output_directions" [ direction ] ], slots + 1)
        let rec layers (layer: int) (input: string) =
            let runs = Array.init r.Directions (fun d -> run layer d input)
            let join (index: int) (along: int) =
                if runs.Length = 1 then runs.[0].[index] else b.Op("Concat", [ runs.[0].[index]; runs.[1].[index] ], [ axis along ])
            match layer = spec.Layers - 1, spec.Head with
            | false, _ -> layers (layer + 1) (join slots 2)
            | true, HeadKind.PerStep -> join slots 2
            | true, HeadKind.LastStep -> join 0 1
        layers 0 x

    /// The head: linear layers (x · Wᵀ + b, Wᵀ stored transposed) with relu between them.
    let private head (b: GraphBuilder) (spec: ModelSpec) (ps: NamedTensors) (features: string) : string =
        let names = if spec.HeadHidden.IsEmpty then [ "fc" ] else List.init (spec.HeadHidden.Length + 1) (fun i -> sprintf "fc%d" (i + 1))
        names |> List.fold (fun (x, i) name ->
            let weight = ps.[name + ".weight"]
            let outputs, inputs = weight.Shape.[0], weight.Shape.[1]
            let wt = b.Weights(name + ".weight_transposed", [ inputs; outputs ], transpose outputs inputs (weight.ToArray()))
            let bias = b.Weights(name + ".bias", [ outputs ], ps.[name + ".bias"].ToArray())
            let y = b.Op("Add", [ b.Op("MatMul", [ x; wt ]); bias ])
            (if i < names.Length - 1 then b.Op("Relu", [ y ]) else y), i + 1) (features, 0)
        |> fst

    /// What the model is, in words, for the file's description.
    let private describe (spec: ModelSpec) (kind: CellKind) (options: OnnxOptions) : string =
        let input =
            match spec.Input with
            | InputEncoding.OneHot v -> sprintf "one-hot token ids of a vocabulary of %d" v
            | InputEncoding.Embedding (v, d) -> sprintf "token ids of a vocabulary of %d embedded in %d dimensions" v d
            | InputEncoding.Features f -> sprintf "%d features per step" f
        let head = if spec.HeadHidden.IsEmpty then "linear head" else sprintf "MLP head (hidden %s, relu)" (String.Join(", ", spec.HeadHidden))
        let where = match spec.Head with HeadKind.PerStep -> "at every step" | HeadKind.LastStep -> "once per sequence"
        let what =
            match spec.Loss, options.Probabilities with
            | Loss.CrossEntropy _, true -> "class probabilities (softmax)"
            | Loss.BinaryCrossEntropy, true -> "label probabilities (logistic)"
            | (Loss.CrossEntropy _ | Loss.BinaryCrossEntropy), false -> "class scores (logits)"
            | _ -> "values"
        sprintf "RnnAd %s, %d layer%s of %d%s; %s%s; %s, %d %s %s; %s"
            kind.Name spec.Layers (if spec.Layers = 1 then "" else "s") spec.HiddenSize (if spec.Bidirectional then ", bidirectional" else "")
            input (if options.SequenceLengths then ", sequence lengths for end padding" else "") head spec.Outputs what where
            (match options.Precision with OnnxFloat.Float32 -> "float32" | OnnxFloat.Float64 -> "float64")

    /// The library's version without the commit Source Link appends.
    let private version () =
        let assembly = typeof<OnnxOptions>.Assembly
        match assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>() with
        | null -> string (assembly.GetName().Version)
        | a -> a.InformationalVersion.Split('+').[0]

    /// The model as the bytes of an ONNX file. Raises an ArgumentException naming what is at fault for a model
    /// ONNX's operators cannot express (see `problem`), parameters that do not fit the spec, or a weight that is
    /// not finite (or beyond float32's range in a float32 export).
    let toBytes (spec: ModelSpec) (ps: NamedTensors) (options: OnnxOptions) : byte[] =
        if isNull (box spec) then nullArg "spec"
        if isNull (box ps) then nullArg "ps"
        check spec options
        SequenceModel.check spec ps
        checkWeights spec ps options.Precision
        let kind = (Cells.tryBuiltIn spec.Cell).Value.Kind
        // A bias-free cell is written as its biased kind with zero biases: adding an exact zero changes no
        // output, and every operator and Scan body keeps one form.
        let spec, ps =
            if (Cells.tryBuiltIn spec.Cell).Value.Bias then spec, ps
            else
                let biased = { spec with Cell = Cells.ofKind kind }
                biased, NamedTensors [| for name, shape in SequenceModel.expectedShapes biased -> name, defaultArg (ps.TryFind name) (Tensor.Zeros shape) |]
        let constants = Constants(options.Precision)
        let b = GraphBuilder(constants, "")
        let features =
            match options.Precision with
            | OnnxFloat.Float32 -> operatorStack b spec kind ps options.SequenceLengths (encodeInput b true spec ps)
            | OnnxFloat.Float64 -> scanStack b spec kind ps options.SequenceLengths (encodeInput b false spec ps)
        let outputs = head b spec ps features
        let final =
            match spec.Loss, options.Probabilities with
            | Loss.CrossEntropy _, true -> b.Op("Softmax", [ outputs ], [ axis -1 ])
            | Loss.BinaryCrossEntropy, true -> b.Op("Sigmoid", [ outputs ])
            | _ -> outputs
        b.Rename(final, outputName options)
        let batch, time = OnnxDim.Symbolic "batch", OnnxDim.Symbolic "time"
        let input =
            match spec.Input with
            | InputEncoding.Features f -> { Name = inputName spec; DataType = b.DataType; Shape = [| batch; time; OnnxDim.Fixed(int64 f) |] }
            | _ -> { Name = inputName spec; DataType = OnnxProto.Int64; Shape = [| batch; time |] }
        let outputShape =
            match spec.Head with
            | HeadKind.PerStep -> [| batch; time; OnnxDim.Fixed(int64 spec.Outputs) |]
            | HeadKind.LastStep -> [| batch; OnnxDim.Fixed(int64 spec.Outputs) |]
        let doc = describe spec kind options
        OnnxProto.write
            { IrVersion = irVersion
              Opset = opset
              ProducerName = "RnnAd"
              ProducerVersion = version ()
              Doc = doc
              Graph =
                { Name = "rnnad"
                  Doc = doc
                  Nodes = b.Nodes
                  Initializers = constants.Tensors
                  Inputs = input :: (if options.SequenceLengths then [ { Name = lengthsName; DataType = OnnxProto.Int64; Shape = [| batch |] } ] else [])
                  Outputs = [ { Name = outputName options; DataType = b.DataType; Shape = outputShape } ] } }

    /// Writes the model as ONNX to a stream (see `toBytes`); nothing is written when the model is refused.
    let export (spec: ModelSpec) (ps: NamedTensors) (options: OnnxOptions) (stream: Stream) : unit =
        if isNull stream then nullArg "stream"
        let bytes = toBytes spec ps options
        stream.Write(bytes, 0, bytes.Length)

    /// Writes the model as an ONNX file, atomically (a temporary file beside it, renamed over it once
    /// complete), following a final symbolic link; a directory, device, FIFO or socket at `path` is refused
    /// and left alone (see `OutputFile`). A refused model writes nothing.
    let exportFile (spec: ModelSpec) (ps: NamedTensors) (options: OnnxOptions) (path: string) : unit =
        if String.IsNullOrWhiteSpace path then invalidArg "path" "the path of the ONNX file must not be empty"
        let bytes = toBytes spec ps options
        OutputFile.writeAtomically (sprintf "cannot write ONNX file '%s'" path) ignore path (fun stream -> stream.Write(bytes, 0, bytes.Length))
