namespace RnnAd.FSharp.Interop

/// An attribute of an ONNX node.
[<RequireQualifiedAccess>]
type internal OnnxAttribute =
    | Int of name: string * value: int64
    | Ints of name: string * values: int64[]
    | String of name: string * value: string
    | Strings of name: string * values: string[]
    | Tensor of name: string * value: OnnxTensor
    | Graph of name: string * value: OnnxGraph

/// A constant tensor (an initializer, or a node's tensor attribute): its element type (an ONNX
/// `TensorProto.DataType`), dimensions and little-endian row-major bytes.
and internal OnnxTensor = { Name: string; DataType: int; Dims: int64[]; Raw: byte[] }

/// One node of a graph: an operator applied to named values, producing named values. An empty input name
/// leaves an optional input out; an empty output name drops an optional output.
and internal OnnxNode =
    { Name: string
      OpType: string
      Inputs: string[]
      Outputs: string[]
      Attributes: OnnxAttribute list }

/// A dimension of a graph input or output: a fixed size or a named symbolic one (any size at run time).
and [<RequireQualifiedAccess>] internal OnnxDim =
    | Fixed of int64
    | Symbolic of string

/// A graph input or output: name, element type and shape.
and internal OnnxValue = { Name: string; DataType: int; Shape: OnnxDim[] }

/// A graph: nodes in topological order, constants, inputs and outputs. A subgraph (a Scan's body) may read
/// values of the graph around it by name.
and internal OnnxGraph =
    { Name: string
      Doc: string
      Nodes: OnnxNode list
      Initializers: OnnxTensor list
      Inputs: OnnxValue list
      Outputs: OnnxValue list }

/// A model: the IR version of the file format, the operator set the nodes follow, who wrote it, the graph.
type internal OnnxModel =
    { IrVersion: int64
      Opset: int64
      ProducerName: string
      ProducerVersion: string
      Doc: string
      Graph: OnnxGraph }

/// ONNX's messages in protobuf's wire format. The field numbers are those of the ONNX specification's
/// onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto, TypeProto,
/// TensorShapeProto, OperatorSetIdProto).
[<RequireQualifiedAccess>]
module internal OnnxProto =

    /// `TensorProto.DataType` of float (float32).
    [<Literal>]
    let Float = 1

    /// `TensorProto.DataType` of int32.
    [<Literal>]
    let Int32 = 6

    /// `TensorProto.DataType` of int64.
    [<Literal>]
    let Int64 = 7

    /// `TensorProto.DataType` of bool.
    [<Literal>]
    let Bool = 9

    /// `TensorProto.DataType` of double.
    [<Literal>]
    let Double = 11

    // AttributeProto.AttributeType codes.
    let private attributeInt, attributeString, attributeTensor, attributeGraph = 2L, 3L, 4L, 5L
    let private attributeInts, attributeStrings = 7L, 8L

    /// TensorProto: dims 1, data_type 2, name 8, raw_data 9.
    let private writeTensor (t: OnnxTensor) (w: ProtoWriter) =
        for d in t.Dims do
            w.Int64(1, d)
        w.Int64(2, int64 t.DataType)
        if t.Name <> "" then w.String(8, t.Name)
        w.Bytes(9, System.ReadOnlySpan t.Raw)

    /// ValueInfoProto: name 1, type 2. TypeProto: tensor_type 1. TypeProto.Tensor: elem_type 1, shape 2.
    /// TensorShapeProto: dim 1. Dimension: dim_value 1, dim_param 2.
    let private writeValue (v: OnnxValue) (w: ProtoWriter) =
        w.String(1, v.Name)
        w.Message(2, fun typeProto ->
            typeProto.Message(1, fun tensorType ->
                tensorType.Int64(1, int64 v.DataType)
                tensorType.Message(2, fun shape ->
                    for d in v.Shape do
                        shape.Message(1, fun dim ->
                            match d with
                            | OnnxDim.Fixed n -> dim.Int64(1, n)
                            | OnnxDim.Symbolic name -> dim.String(2, name)))))

    /// AttributeProto: name 1, then the value in the field of its type (i 3, s 4, t 5, g 6, ints 8, strings 9),
    /// then type 20.
    let rec private writeAttribute (a: OnnxAttribute) (w: ProtoWriter) =
        let name, attributeType, writeValue =
            match a with
            | OnnxAttribute.Int (name, value) -> name, attributeInt, fun () -> w.Int64(3, value)
            | OnnxAttribute.Ints (name, values) -> name, attributeInts, fun () -> Array.iter (fun v -> w.Int64(8, v)) values
            | OnnxAttribute.String (name, value) -> name, attributeString, fun () -> w.String(4, value)
            | OnnxAttribute.Strings (name, values) -> name, attributeStrings, fun () -> Array.iter (fun v -> w.String(9, v)) values
            | OnnxAttribute.Tensor (name, value) -> name, attributeTensor, fun () -> w.Message(5, writeTensor value)
            | OnnxAttribute.Graph (name, value) -> name, attributeGraph, fun () -> w.Message(6, writeGraph value)
        w.String(1, name)
        writeValue ()
        w.Int64(20, attributeType)

    /// NodeProto: input 1, output 2, name 3, op_type 4, attribute 5.
    and private writeNode (n: OnnxNode) (w: ProtoWriter) =
        for i in n.Inputs do
            w.String(1, i)
        for o in n.Outputs do
            w.String(2, o)
        w.String(3, n.Name)
        w.String(4, n.OpType)
        for a in n.Attributes do
            w.Message(5, writeAttribute a)

    /// GraphProto: node 1, name 2, initializer 5, doc_string 10, input 11, output 12.
    and private writeGraph (g: OnnxGraph) (w: ProtoWriter) =
        for n in g.Nodes do
            w.Message(1, writeNode n)
        w.String(2, g.Name)
        for t in g.Initializers do
            w.Message(5, writeTensor t)
        if g.Doc <> "" then w.String(10, g.Doc)
        for v in g.Inputs do
            w.Message(11, writeValue v)
        for v in g.Outputs do
            w.Message(12, writeValue v)

    /// The model's bytes. ModelProto: ir_version 1, producer_name 2, producer_version 3, doc_string 6,
    /// graph 7, opset_import 8. OperatorSetIdProto: domain 1 (empty: the default ai.onnx domain), version 2.
    let write (m: OnnxModel) : byte[] =
        use w = new ProtoWriter()
        w.Int64(1, m.IrVersion)
        w.String(2, m.ProducerName)
        w.String(3, m.ProducerVersion)
        if m.Doc <> "" then w.String(6, m.Doc)
        w.Message(7, writeGraph m.Graph)
        w.Message(8, fun opset ->
            opset.String(1, "")
            opset.Int64(2, m.Opset))
        w.Written.ToArray()
