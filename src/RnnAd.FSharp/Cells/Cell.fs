namespace RnnAd.FSharp

open System
open RnnAd
open RnnAd.FSharp.Storage

/// The state a cell carries from step to step: slots of shape (batch, hidden), h (the cell's output) in
/// slot 0, then whatever else the cell keeps (an LSTM keeps c in slot 1).
type CellState =
    { Slots: Tensor[] }

    /// h, the output of the last step (slot 0).
    member s.H: Tensor = s.Slots.[0]

    /// An LSTM's cell state c (slot 1), if the cell keeps a second slot.
    member s.C: Tensor option = if s.Slots.Length > 1 then Some s.Slots.[1] else None

    /// A state of one slot, h.
    static member Of(h: Tensor) : CellState = { Slots = [| h |] }

    /// A state of two slots, h and c (an LSTM's).
    static member Of(h: Tensor, c: Tensor) : CellState = { Slots = [| h; c |] }

/// How a parameter's values are drawn when a model is created.
[<RequireQualifiedAccess>]
type Initializer =
    /// PyTorch's default for recurrent cells: uniform in (−1/√hidden, 1/√hidden).
    | Recurrent
    /// Uniform in [low, high).
    | Uniform of low: float * high: float
    /// Normal with this mean and standard deviation.
    | Normal of mean: float * std: float
    /// Every entry the same value (0 for a bias that starts at zero).
    | Constant of value: float
    /// Any rule: (seed, hidden size, shape) → values of that shape.
    | Custom of draw: (int -> int -> int[] -> Tensor)

/// One parameter of a cell, named as PyTorch names a layer's parameters without the layer suffix
/// (`weight_ih`; the stack adds `_l0`, `_l1_reverse`, …).
[<NoEquality; NoComparison>]
type CellParameter =
    { Name: string
      /// The shape for a given input size and hidden size.
      Shape: int -> int -> int[]
      Init: Initializer }

/// What the fused whole-sequence path of a cell needs beyond its tensors: which steps are padding and where
/// truncation cuts.
type SequenceSchedule =
    { /// Keep.[b·time + t] is false where step t of row b is padding (the state carries over unchanged).
      Keep: bool[] option
      /// Whether truncated BPTT stops the gradient from step t flowing into the state before it.
      Cut: int -> bool }

/// A whole sequence in one op: (schedule, parameters, inputs (batch, time, input), initial state, probes
/// (batch, time, hidden) if any) → every step's h as (batch, time, hidden) and the final state. Called
/// only when every tensor is a constant or traced at a single level (nothing nested differentiates through it); it must compute what the
/// cell's step folded over time computes.
type SequenceKernel = SequenceSchedule -> NamedTensors -> Tensor -> CellState -> Tensor option -> Tensor * CellState

/// A recurrent cell as a value: its parameters, how many state slots it carries, and its step, a pure
/// function (parameters, state, input (batch, input)) → state. The recurrent runner gives every cell
/// layers, both directions, padding masks, truncated BPTT, probes (∂L/∂hₜ) and gradient checkpointing by
/// folding the step over time; `Fused`, when present, computes the same thing faster as one op.
[<ReferenceEquality>]
type Cell =
    { /// The cell's name, stored in checkpoints (the built-in cells use PyTorch's mode names).
      Name: string
      /// The cell's parameters in order, under names local to one layer and direction.
      Parameters: CellParameter list
      /// How many (batch, hidden) tensors the state holds; h is slot 0.
      StateSlots: int
      /// One step. Partially applied to the parameters once per sequence, so a step may look its tensors
      /// up before returning the function of (state, input).
      Step: NamedTensors -> CellState -> Tensor -> CellState
      /// A whole-sequence kernel for single-level training, if the cell has one.
      Fused: SequenceKernel option }

/// Creating, initialising and running cells one step at a time.
[<RequireQualifiedAccess>]
module Cell =

    /// A parameter drawn as PyTorch draws recurrent weights, uniform in (−1/√hidden, 1/√hidden); `shape`
    /// maps (input size, hidden size) to its shape.
    let parameter (name: string) (shape: int -> int -> int[]) : CellParameter =
        { Name = name; Shape = shape; Init = Initializer.Recurrent }

    /// A parameter drawn by the given initializer.
    let parameterWith (init: Initializer) (name: string) (shape: int -> int -> int[]) : CellParameter =
        { Name = name; Shape = shape; Init = init }

    /// A cell without a fused kernel, checked: a non-empty name, distinct non-empty parameter names, at
    /// least one state slot.
    let create (name: string) (parameters: CellParameter list) (stateSlots: int) (step: NamedTensors -> CellState -> Tensor -> CellState) : Cell =
        if String.IsNullOrWhiteSpace name then invalidArg "name" "a cell needs a name (checkpoints store it)"
        if isNull (box parameters) then nullArg "parameters"
        if stateSlots < 1 then invalidArg "stateSlots" (sprintf "a cell carries at least one state slot (h), got %d" stateSlots)
        if isNull (box step) then nullArg "step"
        parameters |> List.iteri (fun i p ->
            if String.IsNullOrWhiteSpace p.Name then invalidArg "parameters" (sprintf "parameter %d of cell '%s' has no name" i name)
            if isNull (box p.Shape) then invalidArg "parameters" (sprintf "parameter '%s' of cell '%s' has no shape function" p.Name name))
        match parameters |> List.countBy (fun p -> p.Name) |> List.tryFind (fun (_, n) -> n > 1) with
        | Some (dup, _) -> invalidArg "parameters" (sprintf "cell '%s' names the parameter '%s' twice" name dup)
        | None -> ()
        { Name = name; Parameters = parameters; StateSlots = stateSlots; Step = step; Fused = None }

    /// Each parameter's local name and shape for these sizes, checked to be a valid shape (`owner` names the
    /// cell in errors).
    let shapesOf (owner: string) (parameters: CellParameter list) (inputSize: int) (hiddenSize: int) : (string * int[])[] =
        parameters
        |> List.map (fun p ->
            let shape =
                try p.Shape inputSize hiddenSize
                with :? OverflowException ->
                    invalidArg "cell" (sprintf "cell '%s': the shape of parameter '%s' for input %d and hidden %d is too large" owner p.Name inputSize hiddenSize)
            if isNull shape || Array.exists (fun d -> d <= 0) shape then
                invalidArg "cell" (sprintf "cell '%s' gives parameter '%s' the shape %s for input %d and hidden %d; every dimension must be positive"
                                       owner p.Name (if isNull shape then "null" else Shape.format shape) inputSize hiddenSize)
            p.Name, shape)
        |> Array.ofList

    /// Each of a cell's parameters with its local name and its shape for these sizes.
    let parameterShapes (cell: Cell) (inputSize: int) (hiddenSize: int) : (string * int[])[] =
        shapesOf cell.Name cell.Parameters inputSize hiddenSize

    /// Values of a shape drawn as an initializer says, from a seed.
    let draw (init: Initializer) (seed: int) (hiddenSize: int) (shape: int[]) : Tensor =
        match init with
        | Initializer.Recurrent ->
            let bound = 1.0 / sqrt (float hiddenSize)
            Tensor.RandomUniform(seed, shape, -bound, bound)
        | Initializer.Uniform (low, high) -> Tensor.RandomUniform(seed, shape, low, high)
        | Initializer.Normal (mean, std) -> Tensor.RandomNormal(seed, shape, mean, std)
        | Initializer.Constant v -> Tensor.Full(shape, v)
        | Initializer.Custom f ->
            let t = f seed hiddenSize shape
            if isNull (box t) || not (Shape.equal t.Shape shape) then
                invalidArg "init" (sprintf "a custom initializer returned %s for shape %s" (if isNull (box t) then "null" else Shape.format t.Shape) (Shape.format shape))
            t

    /// Fresh values of parameters under their local names, each drawn from its own seed derived from `seed`
    /// and its name, so adding a parameter never shifts the others' values.
    let initParameters (owner: string) (parameters: CellParameter list) (inputSize: int) (hiddenSize: int) (seed: int) : NamedTensors =
        if inputSize <= 0 then invalidArg "inputSize" (sprintf "input size must be positive, got %d" inputSize)
        if hiddenSize <= 0 then invalidArg "hiddenSize" (sprintf "hidden size must be positive, got %d" hiddenSize)
        let shapes = shapesOf owner parameters inputSize hiddenSize
        NamedTensors(Array.map2 (fun (p: CellParameter) (name, shape) -> name, draw p.Init (Seed.derive seed name) hiddenSize shape)
                                (Array.ofList parameters) shapes)

    /// Fresh parameters of one cell (one layer, one direction) under their local names.
    let init (cell: Cell) (inputSize: int) (hiddenSize: int) (seed: int) : NamedTensors =
        initParameters cell.Name cell.Parameters inputSize hiddenSize seed

    /// The zero state of a cell for a batch: every slot zeros of (batch, hidden).
    let zeroState (cell: Cell) (batch: int) (hidden: int) : CellState =
        let zeros = Tensor.Zeros [| batch; hidden |]
        { Slots = Array.create cell.StateSlots zeros }

    /// The cell's step bound to its parameters (looked up once), checking that every state it returns has
    /// as many slots as the cell declares, each of the shape it had.
    let bind (cell: Cell) (p: NamedTensors) : CellState -> Tensor -> CellState =
        let step = cell.Step p
        fun s x ->
            let next = step s x
            if isNull (box next) || isNull next.Slots || next.Slots.Length <> cell.StateSlots then
                invalidOp (sprintf "cell '%s' returned %s state slots, it declares %d" cell.Name
                               (if isNull (box next) || isNull next.Slots then "no" else string next.Slots.Length) cell.StateSlots)
            for i in 0 .. next.Slots.Length - 1 do
                if isNull (box next.Slots.[i]) || not (Shape.equal next.Slots.[i].Shape s.Slots.[i].Shape) then
                    invalidOp (sprintf "cell '%s' returned state slot %d of shape %s for a state of shape %s" cell.Name i
                                   (if isNull (box next.Slots.[i]) then "null" else Shape.format next.Slots.[i].Shape) (Shape.format s.Slots.[i].Shape))
            next

    /// One step: state → input (batch, input) → state.
    let step (cell: Cell) (p: NamedTensors) (s: CellState) (x: Tensor) : CellState = bind cell p s x

    /// The state after a padded step: the new state where `keep` (batch, 1) is 1, the old one where it is 0,
    /// so padding changes neither later states nor the final one.
    let carry (keep: RawTensor) (next: CellState) (previous: CellState) : CellState =
        { Slots = Array.map2 (fun n p -> Tensor.Where(keep, n, p)) next.Slots previous.Slots }

    /// The state with its derivatives removed: gradients stop flowing back through it (truncated BPTT).
    let detach (s: CellState) : CellState = { Slots = Array.map Ad.stopGradient s.Slots }
