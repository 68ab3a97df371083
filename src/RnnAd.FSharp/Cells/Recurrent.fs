namespace RnnAd.FSharp

open System
open RnnAd
open RnnAd.FSharp.Storage

/// The shape of a recurrent layer stack, as PyTorch's `nn.RNN` / `nn.LSTM` / `nn.GRU` arguments.
type RecurrentSpec =
    { Cell: Cell
      InputSize: int
      HiddenSize: int
      Layers: int
      Bidirectional: bool
      /// Dropout on the outputs of every layer but the last, while training.
      Dropout: float }

    /// 2 when bidirectional, else 1.
    member s.Directions = if s.Bidirectional then 2 else 1

/// A stack of recurrent layers: `Cells.[layer].[direction]` holds one cell's parameters under their local
/// names (`weight_ih`, …), direction 1 reading the sequence backwards.
type RecurrentParams = { Spec: RecurrentSpec; Cells: NamedTensors[][] }

/// How a recurrent stack runs beyond its inputs; `RunOptions.Default` is plain inference.
type RunOptions =
    { /// Some seed turns dropout between layers on (training), with masks derived from the seed.
      DropoutSeed: int option
      /// States to start from (PyTorch's h_0 order), e.g. carried over from the previous chunk; zeros if None.
      Initial: CellState[] option
      /// Truncated BPTT: the state is detached every k steps of each layer and direction.
      DetachEvery: int option
      /// Zero tensors added to h after every step, indexed [layer · directions + direction][time] (time in
      /// the sequence's own order for both directions); differentiating with respect to them gives
      /// ∂L/∂h_t, the gradient flow over time.
      Probes: Tensor[][] option
      /// Gradient checkpointing in segments of this many steps (see `SequenceOptions.CheckpointEvery`).
      CheckpointEvery: int option }

    /// No dropout, zero initial states, full backpropagation, no probes, no checkpointing.
    static member Default = { DropoutSeed = None; Initial = None; DetachEvery = None; Probes = None; CheckpointEvery = None }

/// Stacked and bidirectional recurrent layers, compositions of `Sequence.run`.
[<RequireQualifiedAccess>]
module Recurrent =

    /// Checks a spec, naming the field at fault.
    let validate (spec: RecurrentSpec) : unit =
        let positive name v = if v <= 0 then invalidArg name (sprintf "%s must be positive, got %d" name v)
        positive "InputSize" spec.InputSize
        positive "HiddenSize" spec.HiddenSize
        positive "Layers" spec.Layers
        if isNull (box spec.Cell) then invalidArg "Cell" "the cell must not be null"
        if int64 spec.HiddenSize * int64 spec.Directions > int64 Int32.MaxValue then
            invalidArg "HiddenSize" (sprintf "HiddenSize %d is too large for %d directions" spec.HiddenSize spec.Directions)
        if not (spec.Dropout >= 0.0 && spec.Dropout < 1.0) then
            invalidArg "Dropout" (sprintf "Dropout must be in [0, 1), got %g" spec.Dropout)

    /// PyTorch's suffix of a layer and direction: `_l0`, `_l1_reverse`.
    let suffix (layer: int) (direction: int) = sprintf "_l%d%s" layer (if direction = 1 then "_reverse" else "")

    /// Input size of a layer: the data's for layer 0, the previous layer's output (hidden · directions) after.
    let layerInputSize (spec: RecurrentSpec) (layer: int) =
        if layer = 0 then spec.InputSize else Checked.(*) spec.HiddenSize spec.Directions

    /// Fresh parameters with PyTorch's default initialisation, each cell from a seed derived from `seed`.
    let init (spec: RecurrentSpec) (seed: int) : RecurrentParams =
        validate spec
        { Spec = spec
          Cells =
            Array.init spec.Layers (fun l ->
                Array.init spec.Directions (fun d ->
                    Cell.init spec.Cell (layerInputSize spec l) spec.HiddenSize (Seed.derive seed ("cell" + suffix l d)))) }

    /// Every parameter with PyTorch's name (`weight_ih_l0`, …, `bias_hh_l1_reverse`) after `prefix`, and its shape.
    let expectedShapes (spec: RecurrentSpec) (prefix: string) : (string * int[])[] =
        [| for l in 0 .. spec.Layers - 1 do
             for d in 0 .. spec.Directions - 1 do
                 for name, shape in Cell.parameterShapes spec.Cell (layerInputSize spec l) spec.HiddenSize ->
                     prefix + name + suffix l d, shape |]

    /// The parameters as named tensors, in PyTorch's order.
    let toNamed (prefix: string) (p: RecurrentParams) : (string * Tensor)[] =
        [| for l in 0 .. p.Spec.Layers - 1 do
             for d in 0 .. p.Spec.Directions - 1 do
                 for name, t in p.Cells.[l].[d].Entries -> prefix + name + suffix l d, t |]

    /// The parameters read back from named tensors; a missing name or a wrong shape raises naming both.
    let ofNamed (spec: RecurrentSpec) (prefix: string) (ps: NamedTensors) : RecurrentParams =
        validate spec
        for name, shape in expectedShapes spec prefix do
            match ps.TryFind name with
            | None -> invalidArg "ps" (sprintf "parameter '%s' is missing" name)
            | Some t when not (Shape.equal t.Shape shape) ->
                invalidArg "ps" (sprintf "parameter '%s' has shape %s, expected %s" name (Shape.format t.Shape) (Shape.format shape))
            | Some _ -> ()
        { Spec = spec
          Cells =
            Array.init spec.Layers (fun l ->
                Array.init spec.Directions (fun d ->
                    let s = suffix l d
                    NamedTensors [| for p in spec.Cell.Parameters -> p.Name, ps.[prefix + p.Name + s] |])) }

    /// The stack run over (batch, time, input): the top layer's outputs if `topOutputs` (a LastStep head
    /// reads only the final states), and the final states (see `run`).
    let runWith (topOutputs: bool) (p: RecurrentParams) (options: RunOptions) (mask: RawTensor option) (xs: Tensor) : Tensor option * CellState[] =
        let spec = p.Spec
        if xs.Rank <> 3 || xs.Shape.[2] <> spec.InputSize then
            Shape.fail "recurrent" (sprintf "inputs must be (batch, time, %d), got %s" spec.InputSize (Shape.format xs.Shape))
        let batch = xs.Shape.[0]
        let states = spec.Layers * spec.Directions
        let init =
            match options.Initial with
            | Some s when s.Length <> states -> Shape.fail "recurrent" (sprintf "%d initial states given, the stack has %d" s.Length states)
            | Some s -> s
            | None -> Array.init states (fun _ -> Cell.zeroState spec.Cell batch spec.HiddenSize)
        let reversedMask = mask |> Option.map (Layout.flip 1)
        let probesOf index reversed =
            options.Probes |> Option.map (fun ps ->
                if ps.Length <> states then Shape.fail "recurrent" (sprintf "probes for %d states, the stack has %d" ps.Length states)
                if reversed then Array.rev ps.[index] else ps.[index])
        let finals = Array.zeroCreate states
        let mutable input = Some xs
        for l in 0 .. spec.Layers - 1 do
            let x = input.Value
            let needed = l < spec.Layers - 1 || topOutputs
            let sequenceOptions mask probes =
                { Mask = mask; DetachEvery = options.DetachEvery; Probes = probes; CheckpointEvery = options.CheckpointEvery; StartStep = 0 }
            let forward, last = Sequence.run spec.Cell p.Cells.[l].[0] init.[l * spec.Directions] (sequenceOptions mask (probesOf (l * spec.Directions) false)) x
            finals.[l * spec.Directions] <- last
            let backward =
                if spec.Bidirectional then
                    let outputs, last = Sequence.run spec.Cell p.Cells.[l].[1] init.[l * spec.Directions + 1] (sequenceOptions reversedMask (probesOf (l * spec.Directions + 1) true)) (x.Flip 1)
                    finals.[l * spec.Directions + 1] <- last
                    Some outputs
                else None
            input <-
                if not needed then None
                else
                    let output =
                        match backward with
                        | Some b -> Tensor.Concat([ forward; b.Flip 1 ], 2)
                        | None -> forward
                    match options.DropoutSeed with
                    | Some seed when l < spec.Layers - 1 && spec.Dropout > 0.0 -> Some(Nn.dropout (Seed.derive seed (sprintf "dropout_l%d" l)) spec.Dropout output)
                    | _ -> Some output
        input, finals

    /// Runs the stack over (batch, time, input). Returns the top layer's outputs (batch, time, hidden ·
    /// directions), forward and backward halves concatenated as PyTorch does, and the final state of every
    /// layer and direction in PyTorch's h_n order (index layer · directions + direction). The backward
    /// direction reads the sequence reversed and its outputs are flipped back into time order. `dropoutSeed`
    /// (training only) drops layer outputs between layers with masks derived from it.
    let run (p: RecurrentParams) (options: RunOptions) (mask: RawTensor option) (xs: Tensor) : Tensor * CellState[] =
        let outputs, finals = runWith true p options mask xs
        outputs.Value, finals
