namespace RnnAd.FSharp

open RnnAd
open System
open RnnAd.FSharp.Storage

/// How the tokens or features of a sequence enter the recurrent stack.
[<RequireQualifiedAccess>]
type InputEncoding =
    /// Token ids as one-hot vectors of the vocabulary size (seed 001, 002/004).
    | OneHot of vocabulary: int
    /// Token ids through a learned embedding table `embedding.weight` (vocabulary, dim) (seeds 000, 003).
    | Embedding of vocabulary: int * dim: int
    /// Real-valued features given directly as (batch, time, size).
    | Features of size: int

/// A complete sequence model: input encoding → recurrent stack of any cell → linear head (optionally an MLP
/// with relu between layers) → a loss. Its parameters are named as a PyTorch module holding `embedding`,
/// `rnn` and `fc` would name them: `embedding.weight`, `rnn.weight_ih_l0`, …, `fc.weight`, `fc.bias` (or
/// `fc1.*`, `fc2.*`, … for an MLP head), so state dicts move between RnnAd and PyTorch unchanged.
type ModelSpec =
    { Cell: Cell
      Input: InputEncoding
      HiddenSize: int
      Layers: int
      Bidirectional: bool
      Dropout: float
      Head: HeadKind
      /// Hidden sizes of an MLP head; empty for a single linear layer.
      HeadHidden: int list
      /// Width of the head's output: the number of classes it scores, or of real values it predicts (per step,
      /// or per sequence: the next k values of a forecast).
      Outputs: int
      /// How the outputs are scored.
      Loss: Loss }

/// Building, checking and running sequence models over named parameters.
[<RequireQualifiedAccess>]
module SequenceModel =

    /// The recurrent stack's spec inside a model.
    let recurrentSpec (spec: ModelSpec) : RecurrentSpec =
        { Cell = spec.Cell
          InputSize =
            match spec.Input with
            | InputEncoding.OneHot v -> v
            | InputEncoding.Embedding (_, d) -> d
            | InputEncoding.Features f -> f
          HiddenSize = spec.HiddenSize
          Layers = spec.Layers
          Bidirectional = spec.Bidirectional
          Dropout = spec.Dropout }

    /// Width of what the head reads: hidden · directions.
    let private headInput (spec: ModelSpec) = Checked.(*) spec.HiddenSize (if spec.Bidirectional then 2 else 1)

    /// Names of the head's layers: `fc` alone, or `fc1`, `fc2`, … for an MLP.
    let private headLayers (spec: ModelSpec) : (string * int * int)[] =
        let sizes = Array.ofList (headInput spec :: spec.HeadHidden @ [ spec.Outputs ])
        let n = sizes.Length - 1
        Array.init n (fun i -> (if n = 1 then "fc" else sprintf "fc%d" (i + 1)), sizes.[i + 1], sizes.[i])

    /// Checks a spec, naming the field at fault.
    let validate (spec: ModelSpec) : unit =
        match spec.Input with
        | InputEncoding.Embedding (v, _)
        | InputEncoding.OneHot v when v <= 0 -> invalidArg "Input" (sprintf "the vocabulary must have at least one token, got %d" v)
        | InputEncoding.Embedding (_, d) when d <= 0 -> invalidArg "Input" (sprintf "the embedding dimension must be positive, got %d" d)
        | InputEncoding.Features f when f <= 0 -> invalidArg "Input" (sprintf "the number of features must be positive, got %d" f)
        | _ -> ()
        Recurrent.validate (recurrentSpec spec)
        if spec.Outputs <= 0 then invalidArg "Outputs" (sprintf "Outputs must be positive, got %d" spec.Outputs)
        if spec.HeadHidden |> List.exists (fun h -> h <= 0) then
            invalidArg "HeadHidden" (sprintf "head hidden sizes must be positive, got %A" spec.HeadHidden)

    /// Every parameter name with its shape, in order.
    let expectedShapes (spec: ModelSpec) : (string * int[])[] =
        validate spec
        [| match spec.Input with
           | InputEncoding.Embedding (v, d) -> "embedding.weight", [| v; d |]
           | _ -> ()
           yield! Recurrent.expectedShapes (recurrentSpec spec) "rnn."
           for name, outputs, inputs in headLayers spec do
               name + ".weight", [| outputs; inputs |]
               name + ".bias", [| outputs |] |]

    /// How many parameter tensors the model has, counted without listing them (a loader bounds a description
    /// by the tensors its file holds before building anything from it).
    let tensorCount (spec: ModelSpec) : int64 =
        let embedding = match spec.Input with InputEncoding.Embedding _ -> 1L | _ -> 0L
        let directions = if spec.Bidirectional then 2L else 1L
        embedding + int64 spec.Layers * directions * int64 (List.length spec.Cell.Parameters) + 2L * int64 (List.length spec.HeadHidden + 1)

    /// Fresh parameters from a seed: PyTorch's defaults (embedding N(0, 1); cells and linear layers uniform
    /// in ±1/√fan, where fan is the hidden size for cells and the input width for linear layers).
    let init (spec: ModelSpec) (seed: int) : NamedTensors =
        let draw name shape bound = name, Tensor.RandomUniform(Seed.derive seed name, shape, -bound, bound)
        NamedTensors [|
            match spec.Input with
            | InputEncoding.Embedding (v, d) -> "embedding.weight", Tensor.RandomNormal(Seed.derive seed "embedding.weight", [| v; d |])
            | _ -> ()
            yield! Recurrent.toNamed "rnn." (Recurrent.init (recurrentSpec spec) (Seed.derive seed "rnn"))
            for name, outputs, inputs in headLayers spec do
                let bound = 1.0 / sqrt (float inputs)
                draw (name + ".weight") [| outputs; inputs |] bound
                draw (name + ".bias") [| outputs |] bound |]

    /// Raises unless a batch's inputs fit the model, naming the field and the sizes at fault.
    let checkInputs (spec: ModelSpec) (batch: Minibatch) : unit =
        if batch.Batch <= 0 || batch.Time <= 0 then
            invalidArg "batch" (sprintf "a batch needs at least one sequence of at least one step, got batch %d time %d" batch.Batch batch.Time)
        let steps = batch.Batch * batch.Time
        match batch.Input, spec.Input with
        | SequenceInput.Tokens ids, (InputEncoding.OneHot v | InputEncoding.Embedding (v, _)) ->
            if ids.Length <> steps then
                invalidArg "batch" (sprintf "%d token ids for batch %d × time %d" ids.Length batch.Batch batch.Time)
            ids |> Array.iteri (fun i id ->
                if id < 0 || id >= v then invalidArg "batch" (sprintf "token id %d at position %d is outside the vocabulary [0, %d)" id i v))
        | SequenceInput.Features x, InputEncoding.Features f ->
            if not (Shape.equal x.Shape [| batch.Batch; batch.Time; f |]) then
                invalidArg "batch" (sprintf "features have shape %s, expected %s" (Shape.format x.Shape) (Shape.format [| batch.Batch; batch.Time; f |]))
            // A NaN feature would silently turn every later state and prediction into NaN (or class 0).
            let v = x.Value.AsSpan()
            for i in 0 .. v.Length - 1 do
                if not (Double.IsFinite v.[i]) then
                    invalidArg "batch" (sprintf "feature %d of step %d of sequence %d is %g; features must be finite" (i % f) ((i / f) % batch.Time) (i / (f * batch.Time)) v.[i])
        | SequenceInput.Tokens _, InputEncoding.Features _ -> invalidArg "batch" "the model reads features but the batch holds token ids"
        | SequenceInput.Features _, _ -> invalidArg "batch" "the model reads token ids but the batch holds features"
        match batch.Mask with
        | Some m when m.Length <> steps -> invalidArg "batch" (sprintf "mask has %d entries for batch %d × time %d" m.Length batch.Batch batch.Time)
        | Some m ->
            // A fractional weight would let the state advance fully while the loss counts the step partly, and
            // a sequence with no real step would feed the head its initial state: both are errors.
            m |> Array.iteri (fun i w ->
                if w <> 0.0 && w <> 1.0 then invalidArg "batch" (sprintf "mask entry %d is %g; masks hold 1 (real step) or 0 (padding)" i w))
            for b in 0 .. batch.Batch - 1 do
                if Array.forall (fun w -> w = 0.0) m.[b * batch.Time .. (b + 1) * batch.Time - 1] then
                    invalidArg "batch" (sprintf "sequence %d of the batch is all padding (its mask has no 1)" b)
        | None -> ()

    /// The shape of the model's outputs for a batch: (batch, time, outputs) per step, (batch, outputs) per sequence.
    let outputShape (spec: ModelSpec) (batch: Minibatch) : int[] =
        match spec.Head with
        | HeadKind.PerStep -> [| batch.Batch; batch.Time; spec.Outputs |]
        | HeadKind.LastStep -> [| batch.Batch; spec.Outputs |]

    /// Raises unless a batch's targets fit the model's head and loss, naming the position or shape at fault:
    /// one class in [0, Outputs) per counted position, or finite values of the outputs' shape.
    let checkTargets (spec: ModelSpec) (batch: Minibatch) : unit =
        let positions = match spec.Head with HeadKind.PerStep -> batch.Batch * batch.Time | HeadKind.LastStep -> batch.Batch
        let counted i = match spec.Head, batch.Mask with HeadKind.PerStep, Some m -> m.[i] <> 0.0 | _ -> true
        match batch.Targets with
        | Targets.None -> invalidArg "batch" (sprintf "the batch has no targets; the %s loss needs them" spec.Loss.Name)
        | Targets.Classes classes ->
            if spec.Loss.Targets <> TargetKind.Classes then
                invalidArg "batch" (sprintf "the batch holds class indices, the %s loss compares real values" spec.Loss.Name)
            if classes.Length <> positions then
                invalidArg "batch" (sprintf "%d targets, the %A head needs %d" classes.Length spec.Head positions)
            classes |> Array.iteri (fun i y ->
                if counted i && (y < 0 || y >= spec.Outputs) then invalidArg "batch" (sprintf "target %d at position %d is outside [0, %d)" y i spec.Outputs))
        | Targets.Values values ->
            if spec.Loss.Targets <> TargetKind.Values then
                invalidArg "batch" (sprintf "the batch holds real values, the %s loss compares class indices" spec.Loss.Name)
            let expected = outputShape spec batch
            if not (Shape.equal values.Shape expected) then
                invalidArg "batch" (sprintf "targets have shape %s, the outputs %s" (Shape.format values.Shape) (Shape.format expected))
            let v = values.Value.AsSpan()
            for i in 0 .. v.Length - 1 do
                if not (Double.IsFinite v.[i]) && counted (i / spec.Outputs) then
                    invalidArg "batch" (sprintf "target value %g at position %d (flat index %d) is not finite" v.[i] (i / spec.Outputs) i)

    /// Raises unless a batch's inputs and targets fit the model.
    let checkBatch (spec: ModelSpec) (batch: Minibatch) : unit =
        checkInputs spec batch
        checkTargets spec batch

    /// The batch's inputs as (batch, time, input size).
    let encode (spec: ModelSpec) (ps: NamedTensors) (batch: Minibatch) : Tensor =
        let shape = [| batch.Batch; batch.Time |]
        match batch.Input, spec.Input with
        | SequenceInput.Tokens ids, InputEncoding.OneHot v -> Nn.oneHot v shape ids
        | SequenceInput.Tokens ids, InputEncoding.Embedding _ -> Nn.embedding ps.["embedding.weight"] shape ids
        | SequenceInput.Features x, _ -> x
        | _ -> invalidArg "batch" "the batch's inputs do not match the model's input encoding"

    /// Applies the head to features (…, hidden · directions): linear layers with relu between.
    let head (spec: ModelSpec) (ps: NamedTensors) (features: Tensor) : Tensor =
        let layers = headLayers spec
        layers |> Array.fold (fun (x, i) (name, _, _) ->
            let y = Nn.linear ps.[name + ".weight"] ps.[name + ".bias"] x
            (if i < layers.Length - 1 then Nn.relu y else y), i + 1) (features, 0) |> fst

    /// The recurrent stack run over a batch: the top layer's every-step states (batch, time, hidden ·
    /// directions) when `topOutputs` (a per-sequence head reads only the final states), and the final states.
    let private runStack (spec: ModelSpec) (ps: NamedTensors) (options: RunOptions) (topOutputs: bool) (batch: Minibatch) : Tensor option * CellState[] =
        checkInputs spec batch
        let rnn = Recurrent.ofNamed (recurrentSpec spec) "rnn." ps
        let mask = batch.Mask |> Option.map (RawTensor.ofArray [| batch.Batch; batch.Time |])
        Recurrent.runWith topOutputs rnn options mask (encode spec ps batch)

    /// The head's outputs for a batch, (batch, time, outputs) or (batch, outputs): class scores or real
    /// values, as the loss reads them; and the final states of every layer and direction (options: dropout,
    /// initial states, truncation; see `RunOptions`).
    let forward (spec: ModelSpec) (ps: NamedTensors) (options: RunOptions) (batch: Minibatch) : Tensor * CellState[] =
        let outputs, finals = runStack spec ps options (spec.Head = HeadKind.PerStep) batch
        let features =
            match spec.Head with
            | HeadKind.PerStep -> outputs.Value
            | HeadKind.LastStep ->
                let directions = if spec.Bidirectional then 2 else 1
                Tensor.Concat(finals.[(spec.Layers - 1) * directions ..] |> Array.map (fun s -> s.H), 1)
        head spec ps features, finals

    /// The top layer's state after every step, (batch, time, hidden · directions), forward and backward
    /// halves concatenated as PyTorch's outputs are; and the final states.
    let hiddenStates (spec: ModelSpec) (ps: NamedTensors) (options: RunOptions) (batch: Minibatch) : Tensor * CellState[] =
        let outputs, finals = runStack spec ps options true batch
        outputs.Value, finals

    /// The model as a value every service takes.
    let model (spec: ModelSpec) : Model =
        validate spec
        { Parameters = expectedShapes spec
          Init = init spec
          Forward =
            fun ps options batch ->
                if not batch.Targets.IsNone then checkTargets spec batch
                forward spec ps options batch
          Loss = spec.Loss
          Head = spec.Head
          Stochastic = spec.Dropout > 0.0
          Streamable = not spec.Bidirectional }

    /// Raises unless `ps` holds every parameter of `spec` with its shape (extra names are allowed).
    let check (spec: ModelSpec) (ps: NamedTensors) : unit = Model.check (model spec) ps

    /// The mean loss of a batch (padded steps excluded) and the final states.
    let loss (spec: ModelSpec) (ps: NamedTensors) (options: RunOptions) (batch: Minibatch) : Tensor * CellState[] =
        checkTargets spec batch
        let outputs, finals = forward spec ps options batch
        Loss.compute spec.Loss (Model.positionWeights spec.Head batch) batch.Targets outputs, finals
