namespace RnnAd.FSharp

open System
open System.Buffers
open System.Buffers.Binary
open System.Collections.Generic
open System.IO
open System.Runtime.InteropServices
open System.Text.Encodings.Web
open System.Text.Json
open System.Text.Unicode
open RnnAd.FSharp.Data
open RnnAd.FSharp.Files
open RnnAd.FSharp.Storage

/// The contents of a safetensors file.
type SafetensorsFile =
    { /// The `__metadata__` strings; empty when the file has none.
      Metadata: Map<string, string>
      /// The tensors in the order of their data in the file (ascending `data_offsets`), every dtype widened to
      /// float64 exactly (F32, F16, BF16; I64 within ±2⁵³).
      Tensors: (string * RawTensor)[]
      /// The dtype each tensor has in the file (`F64`, `F32`, `F16`, `BF16`, `I64`), by name: a reader that
      /// needs floating-point parameters refuses integers.
      Dtypes: Map<string, string> }

/// Reading and writing the safetensors format: an 8-byte little-endian unsigned header length N, N bytes of
/// UTF-8 JSON mapping each tensor name to its dtype, shape and `data_offsets` [begin, end) relative to the
/// data section (plus an optional `__metadata__` object of strings), then the raw little-endian row-major
/// data. Files are read as hostile input and written atomically.
[<RequireQualifiedAccess>]
module Safetensors =

    /// The largest header accepted, the reference implementation's limit (100 MB): a larger one is refused
    /// before anything is allocated for it.
    let maxHeaderBytes: int64 = 100_000_000L

    /// One header entry, checked on its own but not yet against the others.
    type private Entry =
        { Name: string
          Index: int
          Dtype: string
          ElementSize: int
          Shape: int[]
          Begin: int64
          End: int64 }

    let private invalid (path: string) (message: string) : 'a =
        raise (InvalidDataException(sprintf "safetensors file '%s': %s" path message))

    let private invalidTensor (path: string) (name: string) (message: string) : 'a =
        invalid path (sprintf "tensor '%s': %s" name message)

    /// A JSON value as it appears in the file, cut short so a hostile value cannot flood an error message.
    let private excerpt (e: JsonElement) : string =
        let text = e.GetRawText()
        if text.Length <= 40 then text else text.Substring(0, 37) + "..."

    /// Bytes per element of the dtypes RnnAd reads: the floating-point ones PyTorch saves parameters in, and
    /// I64 (integers widened exactly within ±2⁵³).
    let private elementSize (dtype: string) : int option =
        match dtype with
        | "F64" | "I64" -> Some 8
        | "F32" -> Some 4
        | "F16" | "BF16" -> Some 2
        | _ -> None

    /// A JSON integer ≥ 0 that fits in int64, or what was found instead.
    let private nonNegative (e: JsonElement) : Result<int64, string> =
        if e.ValueKind <> JsonValueKind.Number then Error(sprintf "found %s" (excerpt e))
        else
            match e.TryGetInt64() with
            | true, v when v >= 0L -> Ok v
            | true, v -> Error(sprintf "found the negative %d" v)
            | _ -> Error(sprintf "found %s, which is not an integer below 2^63" (excerpt e))

    /// Whether a string is well-formed UTF-16 (no lone surrogate), i.e. encodable as UTF-8 without loss.
    let internal isWellFormed (s: string) : bool = Tokenize.firstLoneSurrogate s < 0

    let private parseMetadata (path: string) (value: JsonElement) : Map<string, string> =
        match value.ValueKind with
        | JsonValueKind.Null -> Map.empty
        | JsonValueKind.Object ->
            value.EnumerateObject()
            |> Seq.fold (fun (m: Map<string, string>) p ->
                if m.ContainsKey p.Name then invalid path (sprintf "__metadata__ names the key '%s' twice" p.Name)
                if p.Value.ValueKind <> JsonValueKind.String then
                    invalid path (sprintf "__metadata__ key '%s': expected a string value, found %s" p.Name (excerpt p.Value))
                m.Add(p.Name, p.Value.GetString())) Map.empty
        | _ -> invalid path (sprintf "__metadata__: expected an object of string values, found %s" (excerpt value))

    /// Checks one tensor's entry on its own: fields, dtype, shape, offsets within the data section and the
    /// byte count its dtype and shape require. Unknown extra fields are ignored, as the reference does.
    let private parseEntry (path: string) (dataLength: int64) (index: int) (name: string) (value: JsonElement) : Entry =
        let fail message : 'a = invalidTensor path name message
        if value.ValueKind <> JsonValueKind.Object then
            fail (sprintf "expected an object with dtype, shape and data_offsets, found %s" (excerpt value))
        let field (key: string) =
            let found = value.EnumerateObject() |> Seq.filter (fun p -> p.NameEquals key) |> Seq.truncate 2 |> Array.ofSeq
            match found with
            | [| p |] -> p.Value
            | [||] -> fail (sprintf "the field '%s' is missing" key)
            | _ -> fail (sprintf "the field '%s' appears twice" key)
        let dtypeValue = field "dtype"
        if dtypeValue.ValueKind <> JsonValueKind.String then fail (sprintf "dtype: expected a string, found %s" (excerpt dtypeValue))
        let dtype = dtypeValue.GetString()
        let size =
            match elementSize dtype with
            | Some s -> s
            | None -> fail (sprintf "dtype '%s' is not supported; expected F64, F32, F16, BF16 or I64" dtype)
        let shapeValue = field "shape"
        if shapeValue.ValueKind <> JsonValueKind.Array then fail (sprintf "shape: expected an array of integers, found %s" (excerpt shapeValue))
        let shape =
            shapeValue.EnumerateArray()
            |> Seq.mapi (fun i d ->
                match nonNegative d with
                | Ok v when v <= int64 Int32.MaxValue -> int v
                | Ok v -> fail (sprintf "shape entry %d: expected a dimension of at most %d, found %d" i Int32.MaxValue v)
                | Error found -> fail (sprintf "shape entry %d: expected a non-negative integer, %s" i found))
            |> Array.ofSeq
        let offsetsValue = field "data_offsets"
        if offsetsValue.ValueKind <> JsonValueKind.Array || offsetsValue.GetArrayLength() <> 2 then
            fail (sprintf "data_offsets: expected an array [begin, end], found %s" (excerpt offsetsValue))
        let offset i (what: string) =
            match nonNegative offsetsValue.[i] with
            | Ok v -> v
            | Error found -> fail (sprintf "data_offsets %s: expected a non-negative integer, %s" what found)
        let b, e = offset 0 "begin", offset 1 "end"
        if b > e then fail (sprintf "data_offsets [%d, %d) are reversed: expected begin <= end" b e)
        if e > dataLength then
            fail (sprintf "data_offsets [%d, %d) end past the data section, which has %d bytes (truncated file?)" b e dataLength)
        // The required byte count is only compared, never allocated; None when it would overflow int64.
        let required =
            if Array.contains 0 shape then Some 0L
            else
                shape |> Array.fold (fun acc d ->
                    match acc with
                    | Some a when a <= Int64.MaxValue / int64 d -> Some(a * int64 d)
                    | _ -> None) (Some(int64 size))
        match required with
        | None ->
            fail (sprintf "data_offsets [%d, %d) hold %d bytes, but %s of shape %s needs more than 2^63" b e (e - b) dtype (Shape.format shape))
        | Some r when r <> e - b ->
            fail (sprintf "data_offsets [%d, %d) hold %d bytes, but %s of shape %s needs %d bytes" b e (e - b) dtype (Shape.format shape) r)
        | Some r when r / int64 size > int64 Array.MaxLength ->
            fail (sprintf "shape %s has %d elements, more than one array can hold (%d)" (Shape.format shape) (r / int64 size) Array.MaxLength)
        | Some _ -> { Name = name; Index = index; Dtype = dtype; ElementSize = size; Shape = shape; Begin = b; End = e }

    /// Parses and checks the whole header; returns the metadata and the entries in data order.
    let private parseHeader (path: string) (header: byte[]) (dataLength: int64) : Map<string, string> * Entry[] =
        if header.Length = 0 then invalid path "the header is empty; expected a JSON object"
        if header.[0] <> byte '{' then
            invalid path (sprintf "the header must begin with '{' (a JSON object), found the byte 0x%02X" header.[0])
        if not (Utf8.IsValid(ReadOnlySpan header)) then invalid path "the header is not valid UTF-8"
        // Well-formed headers nest three deep ({name: {shape: [..]}}); a low limit stops deep-nesting bombs early.
        let options = JsonDocumentOptions(MaxDepth = 16)
        use doc =
            try JsonDocument.Parse(ReadOnlyMemory header, options)
            with :? JsonException as e -> invalid path (sprintf "the header is not well-formed JSON: %s" e.Message)
        if doc.RootElement.ValueKind <> JsonValueKind.Object then invalid path "the header is not a JSON object"
        let seen = HashSet<string>(StringComparer.Ordinal)
        let entries = ResizeArray<Entry>()
        let mutable metadata = Map.empty
        try
            for p in doc.RootElement.EnumerateObject() do
                if not (seen.Add p.Name) then invalid path (sprintf "the header names '%s' twice; the format forbids duplicate keys" p.Name)
                if p.Name = "__metadata__" then metadata <- parseMetadata path p.Value
                else entries.Add(parseEntry path dataLength entries.Count p.Name p.Value)
        with :? InvalidOperationException as e ->
            // System.Text.Json refuses to decode escapes such as a lone "\ud800" into a .NET string.
            invalid path (sprintf "the header holds text that is not valid Unicode: %s" e.Message)
        // Sorted by offsets, the tensors must tile the data section exactly: no overlap, no hole, nothing after.
        let sorted = entries.ToArray() |> Array.sortBy (fun e -> e.Begin, e.End, e.Index)
        let mutable position = 0L
        let mutable previous: Entry option = None
        for e in sorted do
            if e.Begin < position then
                let p = previous.Value
                invalidTensor path e.Name (sprintf "data_offsets [%d, %d) overlap tensor '%s' at [%d, %d)" e.Begin e.End p.Name p.Begin p.End)
            if e.Begin > position then
                invalid path (sprintf "bytes [%d, %d) of the data section belong to no tensor (the next, '%s', begins at %d); the format allows no holes" position e.Begin e.Name e.Begin)
            position <- e.End
            previous <- Some e
        if position <> dataLength then
            invalid path (sprintf "the data section has %d bytes but the tensors cover only the first %d; trailing bytes are not allowed" dataLength position)
        metadata, sorted

    /// One element of a narrow dtype as float64, exactly: F32 and F16 widen without rounding, BF16 is the top
    /// half of an F32, and an I64 beyond ±2⁵³ (where float64 would round it) raises.
    let private widen (path: string) (e: Entry) (bytes: ReadOnlySpan<byte>) : float =
        match e.Dtype with
        | "F32" -> float (BinaryPrimitives.ReadSingleLittleEndian bytes)
        | "F16" -> float (BinaryPrimitives.ReadHalfLittleEndian bytes)
        | "BF16" -> float (BitConverter.Int32BitsToSingle(int (BinaryPrimitives.ReadUInt16LittleEndian bytes) <<< 16))
        | _ ->
            let v = BinaryPrimitives.ReadInt64LittleEndian bytes
            if v > (1L <<< 53) || v < -(1L <<< 53) then
                invalidTensor path e.Name (sprintf "the I64 value %d is beyond ±2^53, where float64 cannot hold every integer" v)
            float v

    /// Reads one tensor's values; the stream stands at its first byte.
    let private readValues (path: string) (stream: Stream) (e: Entry) : RawTensor =
        let numel = int ((e.End - e.Begin) / int64 e.ElementSize)
        let values = Array.zeroCreate<float> numel
        if e.Dtype = "F64" then
            stream.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()))
            if not BitConverter.IsLittleEndian then
                let bits = MemoryMarshal.Cast<float, int64>(values.AsSpan())
                for i in 0 .. bits.Length - 1 do
                    bits.[i] <- BinaryPrimitives.ReverseEndianness bits.[i]
        else
            // Other dtypes are widened through a small buffer instead of a second copy of the whole tensor.
            let size = e.ElementSize
            let buffer = Array.zeroCreate<byte> (int (min (int64 numel * int64 size) 65536L))
            let mutable filled = 0
            while filled < numel do
                let count = min (numel - filled) (buffer.Length / size)
                let chunk = buffer.AsSpan(0, count * size)
                stream.ReadExactly chunk
                for i in 0 .. count - 1 do
                    values.[filled + i] <- widen path e (Span<byte>.op_Implicit (chunk.Slice(i * size, size)))
                filled <- filled + count
        RawTensor.ofOwned (Array.copy e.Shape) values

    /// Reads and validates a safetensors file from a stream that stands at its first byte and holds exactly the
    /// file (`length` bytes from there); `name` is how errors call it.
    let private readStream (name: string) (stream: Stream) (fileLength: int64) : SafetensorsFile =
        if fileLength < 8L then
            invalid name (sprintf "the file has %d bytes; expected at least 8 (the header length field)" fileLength)
        let lengthField = Array.zeroCreate<byte> 8
        stream.ReadExactly(lengthField.AsSpan())
        let headerLength = BinaryPrimitives.ReadUInt64LittleEndian(ReadOnlySpan lengthField)
        let available = uint64 (fileLength - 8L)
        if headerLength > available then
            invalid name (sprintf "the header length field says %d bytes, but only %d bytes follow it (truncated, or not a safetensors file)" headerLength available)
        if headerLength > uint64 maxHeaderBytes then
            invalid name (sprintf "the header length %d exceeds the limit of %d bytes" headerLength maxHeaderBytes)
        let header = Array.zeroCreate<byte> (int headerLength)
        stream.ReadExactly(header.AsSpan())
        let metadata, entries = parseHeader name header (fileLength - 8L - int64 headerLength)
        let tensors =
            entries |> Array.map (fun e ->
                try e.Name, readValues name stream e
                with :? EndOfStreamException -> invalidTensor name e.Name "the file ended inside its data (did it change while being read?)")
        { Metadata = metadata; Tensors = tensors; Dtypes = entries |> Array.map (fun e -> e.Name, e.Dtype) |> Map.ofArray }

    /// Reads and validates a safetensors file (F64, and F32, F16, BF16, I64 widened to float64). Any inconsistency
    /// raises an `InvalidDataException` naming the file, the tensor, what was expected and what was found. A
    /// missing file raises FileNotFoundException; a directory, device, FIFO or socket raises IOException without
    /// being opened (a FIFO would wait for a writer).
    let read (path: string) : SafetensorsFile =
        if String.IsNullOrWhiteSpace path then invalidArg "path" "the path of a safetensors file must not be empty"
        match FileKind.ofPath path with
        | FileKind.Regular -> ()
        | FileKind.Missing -> raise (FileNotFoundException(sprintf "safetensors file '%s' does not exist" path, path))
        | kind -> raise (IOException(sprintf "safetensors file '%s' is %s, not a file that can be read" path (FileKind.describe kind)))
        use stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 65536, FileOptions.SequentialScan)
        readStream path stream stream.Length

    /// Reads a safetensors file from a stream, from its current position to its end (a stream that cannot
    /// seek is read into memory first, since the format's header must be checked against the data's length);
    /// errors call the file `name`. The stream is left open.
    let readFrom (name: string) (stream: Stream) : SafetensorsFile =
        if isNull stream then nullArg "stream"
        if not stream.CanRead then invalidArg "stream" "the stream cannot be read"
        if stream.CanSeek then readStream name stream (stream.Length - stream.Position)
        else
            use copy = new MemoryStream()
            stream.CopyTo copy
            copy.Position <- 0L
            readStream name copy copy.Length

    /// The header: `__metadata__` first, then the tensors in the given order with consecutive offsets, padded
    /// with spaces to a multiple of 8 bytes so that the data section starts 8-aligned (as the reference does).
    let private headerBytes (metadata: (string * string) list) (tensors: (string * RawTensor)[]) : byte[] =
        let buffer = ArrayBufferWriter<byte>()
        do
            // The relaxed encoder keeps non-ASCII names readable (UTF-8) instead of \u-escaping them.
            use w = new Utf8JsonWriter(buffer, JsonWriterOptions(Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping))
            w.WriteStartObject()
            if not metadata.IsEmpty then
                w.WriteStartObject "__metadata__"
                for key, value in metadata do
                    w.WriteString(key, value)
                w.WriteEndObject()
            let mutable offset = 0L
            for name, raw in tensors do
                let bytes = int64 raw.Numel * 8L
                w.WriteStartObject name
                w.WriteString("dtype", "F64")
                w.WriteStartArray "shape"
                for d in raw.Shape do
                    w.WriteNumberValue d
                w.WriteEndArray()
                w.WriteStartArray "data_offsets"
                w.WriteNumberValue offset
                w.WriteNumberValue(offset + bytes)
                w.WriteEndArray()
                w.WriteEndObject()
                offset <- offset + bytes
            w.WriteEndObject()
        let json = buffer.WrittenSpan
        let header = Array.create ((json.Length + 7) / 8 * 8) (byte ' ')
        json.CopyTo(header.AsSpan())
        header

    /// Raises an `ArgumentException` naming the argument at fault unless every name and value can be written.
    let private checkWritable (path: string) (metadata: (string * string) list) (tensors: (string * RawTensor)[]) : unit =
        let fail (argument: string) (message: string) : 'a =
            invalidArg argument (sprintf "cannot write safetensors file '%s': %s" path message)
        let keys = Dictionary<string, int>(StringComparer.Ordinal)
        metadata |> List.iteri (fun i (key, value) ->
            if isNull key then fail "metadata" (sprintf "metadata entry %d has a null key" i)
            if isNull value then fail "metadata" (sprintf "metadata key '%s' has a null value" key)
            if not (isWellFormed key && isWellFormed value) then
                fail "metadata" (sprintf "metadata entry %d ('%s') is not well-formed UTF-16 text (a lone surrogate)" i key)
            if not (keys.TryAdd(key, i)) then
                fail "metadata" (sprintf "the metadata key '%s' appears twice (entries %d and %d)" key keys.[key] i))
        let names = Dictionary<string, int>(StringComparer.Ordinal)
        tensors |> Array.iteri (fun i (name, raw) ->
            if String.IsNullOrEmpty name then fail "tensors" (sprintf "tensor %d has an empty name" i)
            if name = "__metadata__" then fail "tensors" (sprintf "tensor %d is named '__metadata__', a key the format reserves" i)
            if not (isWellFormed name) then fail "tensors" (sprintf "the name of tensor %d is not well-formed UTF-16 text (a lone surrogate)" i)
            if isNull (box raw) then fail "tensors" (sprintf "tensor '%s' has no values" name)
            // Shape.numel multiplies in int32 and can wrap (65536 × 65536 gives 0): refuse to write a header
            // that no reader would accept.
            if raw.Shape |> Array.fold (fun n d -> n * bigint d) 1I <> bigint raw.Numel then
                fail "tensors" (sprintf "tensor '%s' has shape %s but holds %d values" name (Shape.format raw.Shape) raw.Numel)
            if not (names.TryAdd(name, i)) then
                fail "tensors" (sprintf "the name '%s' appears twice (tensors %d and %d)" name names.[name] i))

    /// The length field, the header and the F64 data, written to a stream.
    let private writeContent (stream: Stream) (header: byte[]) (tensors: (string * RawTensor)[]) : unit =
        let lengthField = Array.zeroCreate<byte> 8
        BinaryPrimitives.WriteUInt64LittleEndian(lengthField.AsSpan(), uint64 header.Length)
        stream.Write(lengthField, 0, 8)
        stream.Write(header, 0, header.Length)
        let scratch = Array.zeroCreate<byte> 8
        for _, raw in tensors do
            if BitConverter.IsLittleEndian then stream.Write(MemoryMarshal.AsBytes(raw.AsSpan()))
            else
                for v in raw.AsSpan() do
                    BinaryPrimitives.WriteDoubleLittleEndian(scratch.AsSpan(), v)
                    stream.Write(scratch, 0, 8)

    /// Writes F64 tensors and metadata in the safetensors format to a stream, from its current position (the
    /// stream is left open; atomicity is the caller's, unlike `write`'s). `name` is how errors call the target.
    let writeTo (name: string) (stream: Stream) (metadata: (string * string) list) (tensors: (string * RawTensor)[]) : unit =
        if isNull stream then nullArg "stream"
        if not stream.CanWrite then invalidArg "stream" "the stream cannot be written"
        if isNull tensors then nullArg "tensors"
        checkWritable name metadata tensors
        writeContent stream (headerBytes metadata tensors) tensors

    /// `write` with a hook run on the finished temporary file just before it replaces the target, so tests can
    /// make a write fail at its last moment.
    let internal writeWith
        (beforeCommit: string -> unit)
        (path: string)
        (metadata: (string * string) list)
        (tensors: (string * RawTensor)[])
        : unit =
        if String.IsNullOrWhiteSpace path then invalidArg "path" "the path of a safetensors file must not be empty"
        if isNull tensors then nullArg "tensors"
        checkWritable path metadata tensors
        let header = headerBytes metadata tensors
        OutputFile.writeAtomically (sprintf "cannot write safetensors file '%s'" path) beforeCommit path (fun stream ->
            writeContent stream header tensors)

    /// Writes F64 tensors and metadata as a safetensors file, atomically: the data go to a temporary file in
    /// the same directory, are flushed to disk, then renamed over the target, so a failure leaves any existing
    /// file untouched. Tensors are stored in the given order; names must be unique and non-empty.
    /// The target is `path` with a final symbolic link followed (`OutputFile.resolve`): the link is kept and
    /// the file it points at is replaced. A target that exists must be a regular file: a directory, device,
    /// FIFO or socket raises IOException and is left alone. The temporary file (".NAME.<32 hex>.tmp") is held
    /// locked while it is written, and each write removes the ones of the same target that no live process
    /// holds, which a writer killed mid-write leaves behind.
    let write (path: string) (metadata: (string * string) list) (tensors: (string * RawTensor)[]) : unit =
        writeWith ignore path metadata tensors
