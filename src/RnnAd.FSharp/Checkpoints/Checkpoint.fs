namespace RnnAd.FSharp

open RnnAd
open System
open System.Buffers
open System.Collections.Generic
open System.IO
open System.Text
open System.Text.Encodings.Web
open System.Text.Json
open RnnAd.FSharp.Storage

/// A model checkpoint as loaded: the model's description, its vocabulary and its parameters.
type ModelCheckpoint =
    { /// The model the parameters belong to.
      Spec: ModelSpec
      /// The vocabulary's tokens in id order, when the checkpoint holds one.
      Vocabulary: string[] option
      /// The parameters, in the order of `SequenceModel.expectedShapes`.
      Parameters: NamedTensors
      /// Every `__metadata__` entry of the file, RnnAd's own keys included.
      Metadata: Map<string, string> }

/// Named tensors stored with free-form metadata (optimizer state, training progress).
type TensorCheckpoint =
    { /// The `__metadata__` strings.
      Metadata: Map<string, string>
      /// The tensors, in the order they were saved.
      Tensors: NamedTensors }

/// Model checkpoints as safetensors files that PyTorch reads too: the parameters under their PyTorch names
/// (F64), and in `__metadata__` the key "format" = "rnnad/1", "rnnad.model" = the `ModelSpec` as a JSON
/// object and, optionally, "rnnad.vocabulary" = the tokens as a JSON array in id order.
[<RequireQualifiedAccess>]
module Checkpoint =

    /// The value of the "format" metadata key that marks an RnnAd model checkpoint.
    let formatVersion: string = "rnnad/1"

    let private formatKey = "format"
    let private modelKey = "rnnad.model"
    let private vocabularyKey = "rnnad.vocabulary"

    /// The metadata key of a training checkpoint's progress (see `TrainingCheckpoint`).
    let internal trainingKey = "rnnad.training"

    /// The name prefix of a training checkpoint's optimizer buffers.
    let internal optimizerPrefix = "optimizer."

    let private json (write: Utf8JsonWriter -> unit) : string =
        let buffer = ArrayBufferWriter<byte>()
        do
            use w = new Utf8JsonWriter(buffer, JsonWriterOptions(Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping))
            write w
        Encoding.UTF8.GetString buffer.WrittenSpan

    /// The loss as a JSON object: `{"name": …}` plus its parameters (`class_weights`, `delta`).
    let private writeLoss (w: Utf8JsonWriter) (loss: Loss) =
        w.WriteStartObject "loss"
        w.WriteString("name", loss.Name)
        match loss with
        | Loss.CrossEntropy (Some weights) ->
            w.WriteStartArray "class_weights"
            for v in weights do
                w.WriteNumberValue v
            w.WriteEndArray()
        | Loss.Huber delta -> w.WriteNumber("delta", delta)
        | _ -> ()
        w.WriteEndObject()

    /// The model description: `{"cell", "bias" (false, for a bias-free built-in cell only), "input": {"encoding", sizes}, "hidden_size", "layers", "bidirectional",
    /// "dropout", "head", "head_hidden", "outputs", "loss"}`, sizes as integers and dropout as a round-trip
    /// number; "cell" is PyTorch's mode name or a custom cell's name, and "loss" is left out for the default
    /// cross-entropy, so a classifier's description reads as it always has.
    let private modelJson (spec: ModelSpec) : string =
        json (fun w ->
            w.WriteStartObject()
            w.WriteString("cell", spec.Cell.Name)
            // A bias-free built-in cell shares its mode's name; only then is "bias" written (PyTorch's default is True).
            match Cells.tryBuiltIn spec.Cell with
            | Some b when not b.Bias -> w.WriteBoolean("bias", false)
            | _ -> ()
            w.WriteStartObject "input"
            match spec.Input with
            | InputEncoding.OneHot v ->
                w.WriteString("encoding", "one_hot")
                w.WriteNumber("vocabulary", v)
            | InputEncoding.Embedding (v, d) ->
                w.WriteString("encoding", "embedding")
                w.WriteNumber("vocabulary", v)
                w.WriteNumber("dim", d)
            | InputEncoding.Features f ->
                w.WriteString("encoding", "features")
                w.WriteNumber("size", f)
            w.WriteEndObject()
            w.WriteNumber("hidden_size", spec.HiddenSize)
            w.WriteNumber("layers", spec.Layers)
            w.WriteBoolean("bidirectional", spec.Bidirectional)
            w.WriteNumber("dropout", spec.Dropout)
            w.WriteString("head", (match spec.Head with HeadKind.PerStep -> "per_step" | HeadKind.LastStep -> "last_step"))
            w.WriteStartArray "head_hidden"
            for h in spec.HeadHidden do
                w.WriteNumberValue h
            w.WriteEndArray()
            w.WriteNumber("outputs", spec.Outputs)
            if spec.Loss <> Loss.crossEntropy then writeLoss w spec.Loss
            w.WriteEndObject())

    /// What is wrong with a vocabulary for a model, if anything: the token ids index it, so its length must be
    /// the model's input vocabulary size and its tokens distinct.
    let private vocabularyProblem (spec: ModelSpec) (tokens: string[]) : string option =
        let size =
            match spec.Input with
            | InputEncoding.OneHot v
            | InputEncoding.Embedding (v, _) -> Some v
            | InputEncoding.Features _ -> None
        let firstId = Dictionary<string, int>(StringComparer.Ordinal)
        match size with
        | None -> Some "the model reads features, not token ids, so it has no vocabulary"
        | Some v when tokens.Length <> v ->
            Some(sprintf "the vocabulary has %d tokens, expected %d (the model's input vocabulary)" tokens.Length v)
        | Some _ ->
            tokens |> Array.indexed |> Array.tryPick (fun (i, t) ->
                if isNull t then Some(sprintf "vocabulary token %d is null" i)
                elif not (Safetensors.isWellFormed t) then Some(sprintf "vocabulary token %d is not well-formed UTF-16 text" i)
                elif not (firstId.TryAdd(t, i)) then Some(sprintf "the token '%s' appears twice in the vocabulary (ids %d and %d)" t firstId.[t] i)
                else None)

    /// Saves a model's parameters with its description and optional vocabulary, atomically (see
    /// `Safetensors.write`). `ps` must hold exactly the model's parameters with their shapes; they are stored
    /// in the order of `SequenceModel.expectedShapes`.
    let rec save (path: string) (spec: ModelSpec) (vocabulary: string[] option) (ps: NamedTensors) : unit =
        saveWith path spec vocabulary ps [] [||]

    /// `save` to a stream, from its position (left open; atomicity is the caller's); `name` is how errors call it.
    and saveTo (name: string) (stream: IO.Stream) (spec: ModelSpec) (vocabulary: string[] option) (ps: NamedTensors) : unit =
        let metadata, tensors = contents name spec vocabulary ps [] [||]
        Safetensors.writeTo name stream metadata tensors

    /// `save` with extra metadata entries and extra tensors stored after the parameters (a training
    /// checkpoint's optimizer state).
    and internal saveWith
        (path: string) (spec: ModelSpec) (vocabulary: string[] option) (ps: NamedTensors)
        (extraMetadata: (string * string) list) (extraTensors: (string * RawTensor)[])
        : unit =
        let metadata, tensors = contents path spec vocabulary ps extraMetadata extraTensors
        Safetensors.write path metadata tensors

    /// What a checkpoint file holds: the metadata and the tensors, after checking that `ps` are exactly the
    /// model's parameters with their shapes and that the vocabulary fits it.
    and private contents
        (path: string) (spec: ModelSpec) (vocabulary: string[] option) (ps: NamedTensors)
        (extraMetadata: (string * string) list) (extraTensors: (string * RawTensor)[])
        : (string * string) list * (string * RawTensor)[] =
        if isNull (box ps) then nullArg "ps"
        let cannot (argument: string) (message: string) : 'a =
            invalidArg argument (sprintf "cannot save checkpoint '%s': %s" path message)
        let expected = try SequenceModel.expectedShapes spec with :? ArgumentException as e -> cannot "spec" e.Message
        for name, shape in expected do
            match ps.TryFind name with
            | None -> cannot "ps" (sprintf "parameter '%s' (shape %s) is missing" name (Shape.format shape))
            | Some t when not (Shape.equal t.Shape shape) ->
                cannot "ps" (sprintf "parameter '%s' has shape %s, expected %s" name (Shape.format t.Shape) (Shape.format shape))
            | Some _ -> ()
        let expectedNames = HashSet<string>(Array.map fst expected, StringComparer.Ordinal)
        match ps.Names |> Array.tryFind (expectedNames.Contains >> not) with
        | Some extra -> cannot "ps" (sprintf "'%s' is not a parameter of this model (expected: %s)" extra (String.Join(", ", Array.map fst expected)))
        | None -> ()
        match vocabulary with
        | Some tokens when isNull tokens -> cannot "vocabulary" "the vocabulary is Some null"
        | Some tokens -> vocabularyProblem spec tokens |> Option.iter (cannot "vocabulary")
        | None -> ()
        let metadata =
            [ formatKey, formatVersion
              modelKey, modelJson spec
              match vocabulary with
              | Some tokens ->
                  vocabularyKey, json (fun w ->
                      w.WriteStartArray()
                      for t in tokens do
                          w.WriteStringValue t
                      w.WriteEndArray())
              | None -> ()
              yield! extraMetadata ]
        metadata, Array.append (expected |> Array.map (fun (name, _) -> name, ps.[name].Value)) extraTensors

    /// Reads the "rnnad.model" description strictly: every field present with its type, no unknown field.
    let private parseModel (custom: LoadOptions) (error: string -> exn) (text: string) : ModelSpec =
        let bad (message: string) : 'a = raise (error message)
        use doc =
            try JsonDocument.Parse text
            with :? JsonException as e -> bad (sprintf "not well-formed JSON: %s" e.Message)
        let fieldsOf (where: string) (o: JsonElement) (allowed: string list) : Map<string, JsonElement> =
            if o.ValueKind <> JsonValueKind.Object then
                let what = if where = "" then "the model description" else sprintf "field '%s'" (where.TrimEnd '.')
                bad (sprintf "%s: expected a JSON object, found %s" what (o.GetRawText()))
            o.EnumerateObject() |> Seq.fold (fun (m: Map<string, JsonElement>) p ->
                if not (List.contains p.Name allowed) then
                    bad (sprintf "field '%s%s' is not part of %s (expected: %s)" where p.Name formatVersion (String.Join(", ", allowed)))
                if m.ContainsKey p.Name then bad (sprintf "field '%s%s' appears twice" where p.Name)
                m.Add(p.Name, p.Value)) Map.empty
        let get (where: string) (m: Map<string, JsonElement>) (key: string) =
            match m.TryFind key with
            | Some v -> v
            | None -> bad (sprintf "field '%s%s' is missing" where key)
        let positive (name: string) (e: JsonElement) : int =
            match e.ValueKind with
            | JsonValueKind.Number ->
                match e.TryGetInt32() with
                | true, v when v > 0 -> v
                | _ -> bad (sprintf "field '%s': expected a positive integer, found %s" name (e.GetRawText()))
            | _ -> bad (sprintf "field '%s': expected a positive integer, found %s" name (e.GetRawText()))
        let str (name: string) (e: JsonElement) : string =
            if e.ValueKind = JsonValueKind.String then e.GetString()
            else bad (sprintf "field '%s': expected a string, found %s" name (e.GetRawText()))
        let m =
            fieldsOf "" doc.RootElement
                [ "cell"; "bias"; "input"; "hidden_size"; "layers"; "bidirectional"; "dropout"; "head"; "head_hidden"; "outputs"; "loss" ]
        let cell =
            let name = str "cell" (get "" m "cell")
            let bias =
                match m.TryFind "bias" with
                | None -> true
                | Some e when e.ValueKind = JsonValueKind.True || e.ValueKind = JsonValueKind.False -> e.GetBoolean()
                | Some e -> bad (sprintf "field 'bias': expected true or false, found %s" (e.GetRawText()))
            match Cells.tryFind custom.Cells name, CellKind.TryParse name with
            | Some _, Some kind when not bias -> Cells.withoutBias kind
            | Some c, _ when not bias -> bad (sprintf "field 'bias': false applies to built-in cells only; '%s' is a custom cell, whose parameters say what it has" c.Name)
            | Some c, _ -> c
            | None, _ ->
                let given = if custom.Cells.IsEmpty then "" else sprintf ", or one of the custom cells given (%s)" (String.Join(", ", custom.Cells |> List.map (fun c -> c.Name)))
                bad (sprintf "field 'cell': unknown cell kind '%s'; expected one of RNN_TANH, RNN_RELU, LSTM, GRU%s (a custom cell loads when it is passed to the loader)" name given)
        let loss =
            match m.TryFind "loss" with
            | None -> Loss.crossEntropy
            | Some e ->
                let f = fieldsOf "loss." e [ "name"; "class_weights"; "delta" ]
                let name = str "loss.name" (get "loss." f "name")
                let weights () =
                    f.TryFind "class_weights" |> Option.map (fun a ->
                        if a.ValueKind <> JsonValueKind.Array then bad (sprintf "field 'loss.class_weights': expected an array of numbers, found %s" (a.GetRawText()))
                        a.EnumerateArray() |> Seq.mapi (fun i v ->
                            match v.ValueKind, (if v.ValueKind = JsonValueKind.Number then v.TryGetDouble() else (false, nan)) with
                            | JsonValueKind.Number, (true, x) when x >= 0.0 && Double.IsFinite x -> x
                            | _ -> bad (sprintf "field 'loss.class_weights[%d]': expected a finite non-negative number, found %s" i (v.GetRawText()))) |> Array.ofSeq)
                let only (allowed: string list) =
                    match f |> Map.toList |> List.tryFind (fun (k, _) -> not (List.contains k allowed)) with
                    | Some (k, _) -> bad (sprintf "field 'loss.%s' does not apply to the %s loss" k name)
                    | None -> ()
                match name with
                | "cross_entropy" ->
                    only [ "name"; "class_weights" ]
                    Loss.CrossEntropy(weights ())
                | "huber" ->
                    only [ "name"; "delta" ]
                    let e = get "loss." f "delta"
                    match e.ValueKind, (if e.ValueKind = JsonValueKind.Number then e.TryGetDouble() else (false, nan)) with
                    | JsonValueKind.Number, (true, d) when d > 0.0 && Double.IsFinite d -> Loss.Huber d
                    | _ -> bad (sprintf "field 'loss.delta': expected a finite number above 0, found %s" (e.GetRawText()))
                | builtIn when (Loss.tryBuiltIn builtIn).IsSome ->
                    only [ "name" ]
                    (Loss.tryBuiltIn builtIn).Value
                | _ ->
                    only [ "name" ]
                    match custom.Losses |> List.tryFind (fun l -> l.Name = name) with
                    | Some l -> Loss.Custom l
                    | None -> bad (sprintf "field 'loss.name': unknown loss '%s'; a custom loss loads when it is passed to the loader" name)
        let input =
            let inputElement = get "" m "input"
            let encoding =
                if inputElement.ValueKind = JsonValueKind.Object then
                    inputElement.EnumerateObject() |> Seq.tryFind (fun p -> p.NameEquals "encoding") |> Option.map (fun p -> str "input.encoding" p.Value)
                else None
            match encoding with
            | Some "one_hot" ->
                let f = fieldsOf "input." inputElement [ "encoding"; "vocabulary" ]
                InputEncoding.OneHot(positive "input.vocabulary" (get "input." f "vocabulary"))
            | Some "embedding" ->
                let f = fieldsOf "input." inputElement [ "encoding"; "vocabulary"; "dim" ]
                InputEncoding.Embedding(positive "input.vocabulary" (get "input." f "vocabulary"), positive "input.dim" (get "input." f "dim"))
            | Some "features" ->
                let f = fieldsOf "input." inputElement [ "encoding"; "size" ]
                InputEncoding.Features(positive "input.size" (get "input." f "size"))
            | Some other -> bad (sprintf "field 'input.encoding': expected one_hot, embedding or features, found '%s'" other)
            | None -> bad (sprintf "field 'input': expected an object with an 'encoding', found %s" (inputElement.GetRawText()))
        let bidirectional =
            match (get "" m "bidirectional").ValueKind with
            | JsonValueKind.True -> true
            | JsonValueKind.False -> false
            | _ -> bad (sprintf "field 'bidirectional': expected true or false, found %s" ((get "" m "bidirectional").GetRawText()))
        let dropout =
            let e = get "" m "dropout"
            match e.ValueKind, (if e.ValueKind = JsonValueKind.Number then e.TryGetDouble() else (false, nan)) with
            | JsonValueKind.Number, (true, p) when p >= 0.0 && p < 1.0 -> p
            | _ -> bad (sprintf "field 'dropout': expected a number in [0, 1), found %s" (e.GetRawText()))
        let head =
            match str "head" (get "" m "head") with
            | "per_step" -> HeadKind.PerStep
            | "last_step" -> HeadKind.LastStep
            | other -> bad (sprintf "field 'head': expected per_step or last_step, found '%s'" other)
        let headHidden =
            let e = get "" m "head_hidden"
            if e.ValueKind <> JsonValueKind.Array then bad (sprintf "field 'head_hidden': expected an array of positive integers, found %s" (e.GetRawText()))
            e.EnumerateArray() |> Seq.mapi (fun i h -> positive (sprintf "head_hidden[%d]" i) h) |> List.ofSeq
        let spec =
            { Cell = cell
              Input = input
              HiddenSize = positive "hidden_size" (get "" m "hidden_size")
              Layers = positive "layers" (get "" m "layers")
              Bidirectional = bidirectional
              Dropout = dropout
              Head = head
              HeadHidden = headHidden
              Outputs = positive "outputs" (get "" m "outputs")
              Loss = loss }
        try SequenceModel.validate spec with :? ArgumentException as e -> bad (sprintf "describes an invalid model: %s" e.Message)
        spec

    /// Loads a model checkpoint written by `save` (or by any tool that writes the same names and metadata; F32
    /// tensors are widened). Checks the metadata and that every parameter of the described model is present
    /// with its shape and nothing else is; each failure raises an `InvalidDataException` naming the file, the
    /// metadata key or tensor, and what was expected and found.
    /// A training checkpoint (see `TrainingCheckpoint`) loads as a model too: its `optimizer.*` tensors are
    /// set aside.
    /// A plain PyTorch state dict (no RnnAd description; `format` absent or "pt") loads too when its weights
    /// say what model it is; otherwise `loadWith` takes what they cannot say. A model of custom cells or
    /// losses loads through `loadWith` as well, which is given them.
    let rec load (path: string) : ModelCheckpoint = loadWith LoadOptions.Default path

    /// `load` with custom cells and losses (found by the names stored) and what a plain state dict's weights
    /// cannot say.
    and loadWith (options: LoadOptions) (path: string) : ModelCheckpoint = fst (loadParts options path (Safetensors.read path))

    /// `loadWith` from a stream holding the file, from its position to its end; `name` is how errors call it.
    and loadFrom (options: LoadOptions) (name: string) (stream: IO.Stream) : ModelCheckpoint =
        fst (loadParts options name (Safetensors.readFrom name stream))

    /// `loadWith`, returning apart (prefix removed) the `optimizer.*` tensors of a training checkpoint, which is
    /// marked by the metadata key "rnnad.training".
    and internal loadParts (custom: LoadOptions) (path: string) (file: SafetensorsFile) : ModelCheckpoint * (string * RawTensor)[] =
        let training = file.Metadata.ContainsKey trainingKey
        let isExtra (name: string) = training && name.StartsWith(optimizerPrefix, StringComparison.Ordinal)
        let extras = file.Tensors |> Array.filter (fst >> isExtra) |> Array.map (fun (n, t) -> n.Substring optimizerPrefix.Length, t)
        let file = { file with Tensors = file.Tensors |> Array.filter (fst >> isExtra >> not) }
        let bad (message: string) : 'a = raise (InvalidDataException(sprintf "checkpoint '%s': %s" path message))
        // A file of RnnAd's describes its model; a plain state dict (PyTorch writes `format` "pt", or nothing)
        // is read by the names and shapes of its tensors, renamed into RnnAd's layout.
        let plainStateDict =
            match file.Metadata.TryFind formatKey, file.Metadata.ContainsKey modelKey with
            | Some v, _ when v = formatVersion -> false
            | (None | Some "pt"), false -> true
            | None, true -> bad (sprintf "metadata key '%s' is missing beside '%s'; expected '%s'" formatKey modelKey formatVersion)
            | Some v, _ ->
                bad (sprintf "metadata key '%s' is '%s', expected '%s' (an RnnAd checkpoint), or 'pt' or none without '%s' (a PyTorch state dict)"
                         formatKey v formatVersion modelKey)
        let file, spec =
            if plainStateDict then
                let spec, names = StateDict.describe path custom file.Tensors
                { file with
                    Tensors = file.Tensors |> Array.map (fun (n, t) -> names.[n], t)
                    Dtypes = file.Dtypes |> Map.toSeq |> Seq.map (fun (n, d) -> names.[n], d) |> Map.ofSeq },
                spec
            else
                file,
                match file.Metadata.TryFind modelKey with
                | None -> bad (sprintf "metadata key '%s' is missing; expected the model description" modelKey)
                | Some text ->
                    let error message = InvalidDataException(sprintf "checkpoint '%s': metadata key '%s': %s" path modelKey message) :> exn
                    parseModel custom error text
        let vocabulary =
            file.Metadata.TryFind vocabularyKey |> Option.map (fun text ->
                let badVocabulary (message: string) : 'a = bad (sprintf "metadata key '%s': %s" vocabularyKey message)
                use doc =
                    try JsonDocument.Parse text
                    with :? JsonException as e -> badVocabulary (sprintf "not well-formed JSON: %s" e.Message)
                if doc.RootElement.ValueKind <> JsonValueKind.Array then
                    badVocabulary (sprintf "expected a JSON array of strings, found a %A" doc.RootElement.ValueKind)
                let tokens =
                    doc.RootElement.EnumerateArray() |> Seq.mapi (fun i t ->
                        if t.ValueKind <> JsonValueKind.String then badVocabulary (sprintf "token %d: expected a string, found %s" i (t.GetRawText()))
                        // System.Text.Json refuses to decode an escaped lone surrogate ("\ud800") into a string.
                        try t.GetString()
                        with :? InvalidOperationException -> badVocabulary (sprintf "token %d is not valid Unicode text (%s)" i (t.GetRawText()))) |> Array.ofSeq
                vocabularyProblem spec tokens |> Option.iter badVocabulary
                tokens)
        let stored = Dictionary<string, RawTensor>(StringComparer.Ordinal)
        for name, raw in file.Tensors do
            stored.Add(name, raw)
        // The description's sizes are bounded by what the file holds before anything is built from them: a
        // hostile "layers": 2147483647 must not make the loader list billions of names. Within a small margin
        // the tensor-by-tensor check below names the first missing tensor instead.
        let described = SequenceModel.tensorCount spec
        if described > 2L * int64 file.Tensors.Length + 16L then
            bad (sprintf "the model in '%s' has %d parameter tensors, the file holds %d" modelKey described file.Tensors.Length)
        let expected =
            try SequenceModel.expectedShapes spec
            with :? ArgumentException as e -> bad (sprintf "metadata key '%s' describes an invalid model: %s" modelKey e.Message)
        for name, shape in expected do
            match stored.TryGetValue name with
            | false, _ -> bad (sprintf "tensor '%s' is missing; the model in '%s' expects it with shape %s" name modelKey (Shape.format shape))
            | true, raw when not (Shape.equal raw.Shape shape) ->
                bad (sprintf "tensor '%s' has shape %s, expected %s" name (Shape.format raw.Shape) (Shape.format shape))
            | true, _ -> ()
        let expectedNames = HashSet<string>(Array.map fst expected, StringComparer.Ordinal)
        match file.Tensors |> Array.tryFind (fst >> expectedNames.Contains >> not) with
        | Some (extra, _) -> bad (sprintf "tensor '%s' is not a parameter of the model in '%s'" extra modelKey)
        | None -> ()
        // A NaN or infinite weight would load silently and turn every output into garbage.
        for name, _ in expected do
            if file.Dtypes.TryFind name = Some "I64" then bad (sprintf "tensor '%s' holds integers (I64); parameters are floating point" name)
            let values = stored.[name].AsSpan()
            let mutable i = 0
            while i < values.Length && Double.IsFinite values.[i] do
                i <- i + 1
            if i < values.Length then bad (sprintf "tensor '%s' holds %g at flat index %d; parameters must be finite" name values.[i] i)
        { Spec = spec
          Vocabulary = vocabulary
          Parameters = NamedTensors(expected |> Array.map (fun (name, _) -> name, Tensor.Constant stored.[name]))
          Metadata = file.Metadata },
        extras

    /// Saves named tensors with free-form metadata, atomically (a thin layer over `Safetensors.write`).
    let saveTensors (path: string) (metadata: (string * string) list) (tensors: NamedTensors) : unit =
        if isNull (box tensors) then nullArg "tensors"
        Safetensors.write path metadata (tensors.Entries |> Array.map (fun (name, t) -> name, t.Value))

    /// Loads named tensors and metadata saved by `saveTensors` (or any safetensors file of F64/F32 tensors),
    /// in the order of their data in the file.
    let loadTensors (path: string) : TensorCheckpoint =
        let file = Safetensors.read path
        match file.Tensors |> Array.tryFind (fun (name, _) -> name = "") with
        | Some _ -> raise (InvalidDataException(sprintf "safetensors file '%s': a tensor has an empty name, which named tensors cannot hold" path))
        | None -> ()
        { Metadata = file.Metadata
          Tensors = NamedTensors(file.Tensors |> Array.map (fun (name, raw) -> name, Tensor.Constant raw)) }
