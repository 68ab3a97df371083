namespace RnnAd.FSharp

open System
open System.Collections.Generic
open System.IO
open System.Text.RegularExpressions
open RnnAd.FSharp.Storage

/// What the recurrent layers read, when a state dict has no embedding to say it.
[<RequireQualifiedAccess>]
type InputKind =
    /// Token ids, as one-hot vectors of the layers' input size.
    | TokenIds
    /// Real-valued features.
    | Features

/// How a checkpoint is loaded: the custom parts a checkpoint of RnnAd may name, and, for a plain PyTorch
/// state dict (no RnnAd description), what its weights cannot tell. Every field may stay empty when it does
/// not apply; loading says exactly which one it needs.
type LoadOptions =
    { /// Custom cells a checkpoint may name (it stores their names only).
      Cells: Cell list
      /// Custom losses a checkpoint may name.
      Losses: CustomLoss list
      /// A state dict's model, given whole: used instead of inferring it from the weights (then only
      /// `ModuleNames` applies).
      Description: ModelSpec option
      /// Module names of a state dict renamed to RnnAd's (`"lstm."` → `"rnn."`, `"linear."` → `"fc."`); found
      /// from the tensors' shapes when empty.
      ModuleNames: (string * string) list
      /// Whether the model predicts at every step or once per sequence: no weight says it.
      Head: HeadKind option
      /// Without an embedding, whether the recurrent input is token ids (one-hot) or features.
      Input: InputKind option
      /// The cell, when its weights' shapes leave a choice (a one-gate RNN is tanh or relu).
      Cell: CellKind option
      /// The loss the model is trained with (weights do not store it); cross-entropy when not given.
      Loss: Loss option }

    /// Models of built-in parts only, in RnnAd's own files.
    static member Default =
        { Cells = []; Losses = []; Description = None; ModuleNames = []; Head = None; Input = None; Cell = None; Loss = None }

/// Reading a plain PyTorch state dict (`model.state_dict()` saved as safetensors): the model described by the
/// names and shapes of its tensors where they decide it, the rest from `LoadOptions`.
[<RequireQualifiedAccess>]
module StateDict =

    let private recurrentName = Regex(@"^(.*)(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?$", RegexOptions.CultureInvariant)

    /// The model a state dict describes, and the name each of its tensors takes in RnnAd's layout
    /// (`embedding.weight`, `rnn.weight_ih_l0`, `fc.weight`, …). Raises InvalidDataException naming the file
    /// and everything the weights leave open that the options do not give.
    let describe (name: string) (options: LoadOptions) (tensors: (string * RawTensor)[]) : ModelSpec * Map<string, string> =
        let bad (message: string) : 'a = raise (InvalidDataException(sprintf "state dict '%s': %s" name message))
        let renamed =
            tensors |> Array.map (fun (n, t) ->
                let mapped =
                    options.ModuleNames |> List.tryPick (fun (from, into) ->
                        if n.StartsWith(from, StringComparison.Ordinal) then Some(into + n.Substring from.Length) else None)
                n, defaultArg mapped n, t)
        match options.Description with
        | Some spec -> spec, renamed |> Array.map (fun (n, m, _) -> n, m) |> Map.ofArray
        | None ->
        // The recurrent stack: every tensor named <prefix>weight_ih_l<k>[_reverse] and its siblings.
        let recurrent = renamed |> Array.choose (fun (n, m, t) -> let g = recurrentName.Match m in if g.Success then Some(n, g, t) else None)
        if recurrent.Length = 0 then bad "no tensor is named like a recurrent layer's (weight_ih_l0, …); give ModuleNames or the Description"
        let prefixes = recurrent |> Array.map (fun (_, g, _) -> g.Groups.[1].Value) |> Array.distinct
        if prefixes.Length > 1 then
            bad (sprintf "recurrent weights under several modules (%s); RnnAd's model has one recurrent stack" (String.Join(", ", prefixes |> Array.map (sprintf "'%s'"))))
        let prefix = prefixes.[0]
        let find (suffix: string) = recurrent |> Array.tryPick (fun (_, g, t) -> if g.Groups.[2].Value + "_l" + g.Groups.[3].Value + g.Groups.[4].Value = suffix then Some t else None)
        let layers = 1 + (recurrent |> Array.map (fun (_, g, _) -> int g.Groups.[3].Value) |> Array.max)
        let bidirectional = recurrent |> Array.exists (fun (_, g, _) -> g.Groups.[4].Success)
        let whh = find "weight_hh_l0" |> Option.defaultWith (fun () -> bad (sprintf "'%sweight_hh_l0' is missing" prefix))
        let wih = find "weight_ih_l0" |> Option.get
        if whh.Rank <> 2 || wih.Rank <> 2 || whh.Shape.[1] = 0 then
            bad (sprintf "'%sweight_hh_l0' has shape %s and '%sweight_ih_l0' %s; recurrent weights are matrices" prefix (Shape.format whh.Shape) prefix (Shape.format wih.Shape))
        let hidden, input = whh.Shape.[1], wih.Shape.[1]
        let gates = whh.Shape.[0] / hidden
        let missing = ResizeArray<string>()
        let kind =
            match gates, whh.Shape.[0] % hidden, options.Cell with
            | _, r, _ when r <> 0 -> bad (sprintf "'%sweight_hh_l0' has %d rows, not a multiple of the hidden size %d" prefix whh.Shape.[0] hidden)
            | 4, _, (None | Some CellKind.Lstm) -> Some CellKind.Lstm
            | 3, _, (None | Some CellKind.Gru) -> Some CellKind.Gru
            | 1, _, Some ((CellKind.RnnTanh | CellKind.RnnRelu) as k) -> Some k
            | 1, _, None ->
                missing.Add "whether the RNN's nonlinearity is tanh or relu (its weights are the same shape): give Cell"
                None
            | g, _, Some k -> bad (sprintf "the weights stack %d gate blocks, the %s cell given has %d" g k.Name k.Gates)
            | g, _, None -> bad (sprintf "the weights stack %d gate blocks of %d rows; RNN has 1, GRU 3, LSTM 4" g hidden)
        // PyTorch's bias=False leaves out every layer's bias_ih and bias_hh; a stack with some is checked
        // against the biased layout, whose loader names each tensor missing.
        let biased = recurrent |> Array.exists (fun (_, g, _) -> g.Groups.[2].Value.StartsWith("bias", StringComparison.Ordinal))
        // The other modules: linear layers (weight (out, in) and bias (out)) and an embedding (a lone 2-D weight).
        let others = renamed |> Array.filter (fun (_, m, _) -> not (recurrentName.IsMatch m))
        let modules =
            others |> Array.groupBy (fun (_, m, _) ->
                let dot = m.LastIndexOf '.'
                if dot < 0 then "" else m.Substring(0, dot + 1))
        let weightOf (parts: (string * string * RawTensor)[]) (leaf: string) =
            parts |> Array.tryPick (fun (n, m, t) -> if m.EndsWith(leaf, StringComparison.Ordinal) && m.Length - leaf.Length = m.LastIndexOf '.' + 1 then Some(n, t) else None)
        let linears = ResizeArray<string * RawTensor * RawTensor>()
        let embeddings = ResizeArray<string * RawTensor>()
        for moduleName, parts in modules do
            match weightOf parts "weight", weightOf parts "bias", parts.Length with
            | Some (_, w), Some (_, b), 2 when w.Rank = 2 && b.Rank = 1 && b.Shape.[0] = w.Shape.[0] -> linears.Add((moduleName, w, b))
            | Some (_, w), None, 1 when w.Rank = 2 -> embeddings.Add((moduleName, w))
            | _ ->
                let names = parts |> Array.map (fun (n, _, _) -> sprintf "'%s'" n)
                bad (sprintf "the tensors %s form no part of RnnAd's model (an embedding, a linear layer with its bias, or the recurrent stack)" (String.Join(", ", names)))
        // The head: linear layers chained from the stack's output width, each reading what the previous writes.
        let chain = ResizeArray<string * RawTensor * RawTensor>()
        let mutable width = hidden * (if bidirectional then 2 else 1)
        let mutable searching = true
        while searching do
            match linears |> Seq.filter (fun (m, w, _) -> w.Shape.[1] = width && not (chain |> Seq.exists (fun (c, _, _) -> c = m))) |> List.ofSeq with
            | [] -> searching <- false
            | [ (_, w, _) as layer ] ->
                chain.Add layer
                width <- w.Shape.[0]
            | several ->
                bad (sprintf "several linear layers read %d values (%s); give ModuleNames (fc1., fc2., …) or the Description"
                         width (String.Join(", ", several |> List.map (fun (m, _, _) -> sprintf "'%s'" m))))
        if chain.Count = 0 then bad (sprintf "no linear layer reads the recurrent stack's %d outputs; give the Description" (hidden * (if bidirectional then 2 else 1)))
        for m, _, _ in linears do
            if not (chain |> Seq.exists (fun (c, _, _) -> c = m)) then bad (sprintf "the linear layer '%s' is not part of the head's chain" m)
        let encoding =
            match List.ofSeq embeddings, options.Input with
            | [ (m, w) ], _ when w.Shape.[1] = input -> Some(InputEncoding.Embedding(w.Shape.[0], w.Shape.[1]))
            | [ (m, w) ], _ -> bad (sprintf "'%sweight' has shape %s, but the recurrent layers read %d values" m (Shape.format w.Shape) input)
            | [], Some InputKind.TokenIds -> Some(InputEncoding.OneHot input)
            | [], Some InputKind.Features -> Some(InputEncoding.Features input)
            | [], None ->
                missing.Add(sprintf "whether the recurrent layers' %d inputs are one-hot token ids or features (there is no embedding): give Input" input)
                None
            | several, _ -> bad (sprintf "several lone matrices could be the embedding (%s)" (String.Join(", ", several |> List.map (fun (m, _) -> sprintf "'%s'" m))))
        if options.Head.IsNone then
            missing.Add "whether the head reads every step (a language model, a tagger) or the last (a classifier, a forecast): give Head"
        if missing.Count > 0 then
            bad (sprintf "it holds no RnnAd description, and its weights say: %s%s %s, %d layer%s of %d%s, head %s; they cannot say %s"
                     (match kind with Some k -> k.Name | None -> "an RNN") (if biased then "" else " without biases")
                     (if bidirectional then "bidirectional" else "unidirectional")
                     layers (if layers = 1 then "" else "s") hidden
                     (match embeddings |> List.ofSeq with [ (_, w) ] -> sprintf ", embedding %d × %d" w.Shape.[0] w.Shape.[1] | _ -> sprintf ", %d inputs" input)
                     (String.Join(" → ", chain |> Seq.map (fun (_, w, _) -> sprintf "%d→%d" w.Shape.[1] w.Shape.[0])))
                     (String.Join("; nor ", missing)))
        let headNames = if chain.Count = 1 then [| "fc." |] else Array.init chain.Count (fun i -> sprintf "fc%d." (i + 1))
        let moduleRename =
            Dictionary<string, string>(
                Seq.append
                    (chain |> Seq.mapi (fun i (m, _, _) -> KeyValuePair(m, headNames.[i])))
                    (embeddings |> Seq.map (fun (m, _) -> KeyValuePair(m, "embedding."))),
                StringComparer.Ordinal)
        let target (mapped: string) =
            match recurrentName.Match mapped with
            | g when g.Success -> "rnn." + mapped.Substring prefix.Length
            | _ ->
                let dot = mapped.LastIndexOf '.'
                moduleRename.[mapped.Substring(0, dot + 1)] + mapped.Substring(dot + 1)
        let spec =
            { Cell = Cells.ofBuiltIn { Kind = kind.Value; Bias = biased }
              Input = encoding.Value
              HiddenSize = hidden
              Layers = layers
              Bidirectional = bidirectional
              Dropout = 0.0
              Head = options.Head.Value
              HeadHidden = chain |> Seq.take (chain.Count - 1) |> Seq.map (fun (_, w, _) -> w.Shape.[0]) |> List.ofSeq
              Outputs = width
              Loss = defaultArg options.Loss Loss.crossEntropy }
        spec, renamed |> Array.map (fun (n, m, _) -> n, target m) |> Map.ofArray
