namespace RnnAd.FSharp

open RnnAd
open RnnAd.FSharp.Storage

/// How one direction of one layer runs over its sequence.
type SequenceOptions =
    { /// (batch, time), 1 for real steps and 0 for padding: padded steps carry the state unchanged.
      Mask: RawTensor option
      /// Truncated BPTT: the state entering steps k, 2k, … is a constant, so no gradient flows from a step
      /// back across the nearest multiple of k before it.
      DetachEvery: int option
      /// One (batch, hidden) tensor per step added to h after the step; zeros in practice, and the gradient
      /// of a loss with respect to probe t is ∂L/∂h_t.
      Probes: Tensor[] option
      /// Gradient checkpointing: keep the trace of segments of this many steps only while the reverse sweep
      /// needs it (memory O(T/s + s); s ≈ √T is the usual choice), at the cost of a second forward pass.
      CheckpointEvery: int option
      /// The global index of the first step (truncation counts from the start of the whole sequence).
      StartStep: int }

    /// No mask, no truncation, no probes, no checkpointing.
    static member Default = { Mask = None; DetachEvery = None; Probes = None; CheckpointEvery = None; StartStep = 0 }

/// Sequences are folds of a step over the time dimension of a batch-first (batch, time, features) tensor.
[<RequireQualifiedAccess>]
module Sequence =

    /// The states after each step of `step` folded over time: states.[t] follows input t.
    let scan (step: 's -> Tensor -> 's) (init: 's) (xs: Tensor) : 's[] =
        if xs.Rank <> 3 then Shape.fail "sequence" (sprintf "inputs must be (batch, time, features), got %s" (Shape.format xs.Shape))
        Array.init xs.Shape.[1] (fun t -> xs.Select(1, t)) |> Array.scan step init |> Array.tail

    /// The state with its derivatives removed: gradients stop flowing back through it (truncated BPTT).
    let detach (s: CellState) : CellState = Cell.detach s

    /// Whether truncation detaches the state entering step t (counted from `StartStep`).
    let private cutsAt (o: SequenceOptions) (t: int) : bool =
        match o.DetachEvery with
        | Some k -> o.StartStep + t > 0 && (o.StartStep + t) % k = 0
        | None -> false

    /// The states after every step of the cell's readable step folded over time, with padding, truncation
    /// and probes (see `states`).
    let private plainStates (cell: Cell) (p: NamedTensors) (init: CellState) (o: SequenceOptions) (xs: Tensor) : CellState[] =
        let batch, time = xs.Shape.[0], xs.Shape.[1]
        let keepAt =
            match o.Mask with
            | None -> fun _ -> None
            | Some m -> fun t -> Some(Layout.reshape [| batch; 1 |] (Layout.slice 1 t 1 m))
        let cellStep = Cell.bind cell p
        let step (s: CellState) (t: int) =
            let s = if cutsAt o t then detach s else s
            let next = cellStep s (xs.Select(1, t))
            let next = match keepAt t with Some keep -> Cell.carry keep next s | None -> next
            match o.Probes with
            | Some ps -> { Slots = Array.updateAt 0 (next.H + ps.[t]) next.Slots }
            | None -> next
        Array.init time id |> Array.scan step init |> Array.tail

    /// The whole sequence as the cell's fused op, probes stacked into one input, when the cell has one and
    /// every input is a constant or traced at a single level (training); None for nested or forward-mode
    /// derivatives, which need the readable step.
    let private fusedRun (cell: Cell) (p: NamedTensors) (init: CellState) (o: SequenceOptions) (xs: Tensor) : (Tensor * CellState) option =
        match cell.Fused with
        | Some kernel when Op.fusable (Array.concat [ [| xs |]; p.Tensors; init.Slots; defaultArg o.Probes [||] ]) ->
            let schedule = { Keep = o.Mask |> Option.map (fun m -> m.Data |> Array.map (fun v -> v <> 0.0)); Cut = cutsAt o }
            Some(kernel schedule p xs init (o.Probes |> Option.map (fun ps -> Tensor.Stack(ps, 1))))
        | _ -> None

    /// Whether checkpointing applies: segments shorter than the sequence, and no probes (which need every
    /// step's state kept).
    let private checkpointEvery (o: SequenceOptions) (time: int) : int option =
        match o.CheckpointEvery with
        | Some every when every < time && o.Probes.IsNone -> Some every
        | _ -> None

    /// Outputs and last state: checkpointed segments, else the fused op, else the readable fold (nested or
    /// forward-mode derivatives, cells without a fused kernel).
    let rec private runUnvalidated (cell: Cell) (p: NamedTensors) (init: CellState) (o: SequenceOptions) (xs: Tensor) : Tensor * CellState =
        match checkpointEvery o xs.Shape.[1] with
        | Some every -> checkpointedRun every cell p init o xs
        | None ->
            match fusedRun cell p init o xs with
            | Some result -> result
            | None ->
                let all = plainStates cell p init o xs
                Tensor.Stack(all |> Array.map (fun s -> s.H), 1), Array.last all

    /// Gradient checkpointing: segments of `every` steps, each an `Ad.checkpoint` whose trace is rebuilt
    /// during the reverse sweep, so the trace kept holds only the segments' outputs and boundary states.
    and private checkpointedRun (every: int) (cell: Cell) (p: NamedTensors) (init: CellState) (o: SequenceOptions) (xs: Tensor) : Tensor * CellState =
        let time = xs.Shape.[1]
        let slots = cell.StateSlots
        let names = p.Names
        // A segment returns its outputs (batch, length, hidden) followed along time by its last state's slots
        // beyond h (h itself is the last output).
        let segment (start: int) (length: int) (inputs: Tensor[]) : Tensor =
            let q = NamedTensors(Array.init names.Length (fun i -> names.[i], inputs.[slots + i]))
            let options = { o with StartStep = o.StartStep + start; Mask = o.Mask |> Option.map (Layout.slice 1 start length); CheckpointEvery = None }
            let outputs, last = runUnvalidated cell q { Slots = inputs.[.. slots - 1] } options (Array.last inputs)
            if slots = 1 then outputs else Tensor.Concat(outputs :: [ for k in 1 .. slots - 1 -> last.Slots.[k].Unsqueeze 1 ], 1)
        let pieces = ResizeArray<Tensor>()
        let mutable state = init
        for start in 0 .. every .. time - 1 do
            let length = min every (time - start)
            let packed = Ad.checkpoint (segment start length) (Array.concat [ state.Slots; p.Tensors; [| xs.Slice(1, start, length) |] ])
            pieces.Add(if slots = 1 then packed else packed.Slice(1, 0, length))
            state <- { Slots = Array.init slots (fun k -> packed.Select(1, (if k = 0 then length - 1 else length + k - 1))) }
        Tensor.Concat(List.ofSeq pieces, 1), state

    /// Refuses options and states that do not fit inputs (batch, time, features).
    let private validate (cell: Cell) (init: CellState) (options: SequenceOptions) (xs: Tensor) =
        if xs.Rank <> 3 || xs.Shape.[1] = 0 then
            Shape.fail "sequence" (sprintf "inputs must be (batch, time ≥ 1, features), got %s" (Shape.format xs.Shape))
        let batch, time = xs.Shape.[0], xs.Shape.[1]
        if isNull (box init) || isNull init.Slots || init.Slots.Length <> cell.StateSlots then
            Shape.fail "sequence" (sprintf "cell '%s' carries %d state slots, the initial state has %s" cell.Name cell.StateSlots
                                      (if isNull (box init) || isNull init.Slots then "none" else string init.Slots.Length))
        for k in 0 .. init.Slots.Length - 1 do
            let slot = init.Slots.[k]
            if slot.Rank <> 2 || slot.Shape.[0] <> batch || slot.Shape.[1] <> init.Slots.[0].Shape.[1] then
                Shape.fail "sequence" (sprintf "initial state slot %d has shape %s, inputs %s need (%d, hidden)" k (Shape.format slot.Shape) (Shape.format xs.Shape) batch)
        match options.Mask with
        | Some m when not (Shape.equal m.Shape [| batch; time |]) ->
            Shape.fail "sequence" (sprintf "mask has shape %s, inputs %s need (%d, %d)" (Shape.format m.Shape) (Shape.format xs.Shape) batch time)
        | _ -> ()
        match options.DetachEvery with
        | Some k when k <= 0 -> Shape.fail "sequence" (sprintf "the truncation window must be positive, got %d" k)
        | _ -> ()
        match options.Probes with
        | Some ps when ps.Length <> time -> Shape.fail "sequence" (sprintf "%d probes for %d time steps" ps.Length time)
        | _ -> ()
        match options.CheckpointEvery with
        | Some s when s <= 0 -> Shape.fail "sequence" (sprintf "the checkpoint segment must be positive, got %d" s)
        | _ -> ()

    /// The state after every step of a cell run over a sequence from `init`: the readable step folded over
    /// time, or with checkpointing the outputs of `run` with the slots beyond h kept for the last step only.
    let states (cell: Cell) (p: NamedTensors) (init: CellState) (options: SequenceOptions) (xs: Tensor) : CellState[] =
        validate cell init options xs
        match checkpointEvery options xs.Shape.[1] with
        | Some every ->
            let outputs, last = checkpointedRun every cell p init options xs
            Array.init xs.Shape.[1] (fun t -> if t = xs.Shape.[1] - 1 then last else CellState.Of(outputs.Select(1, t)))
        | None -> plainStates cell p init options xs

    /// Runs a cell over a sequence from `init`: every step's h stacked as (batch, time, hidden), and the last
    /// state (see `SequenceOptions` for masks, truncation, probes and checkpointing). Single-level training
    /// runs a cell with a fused kernel as one op.
    let run (cell: Cell) (p: NamedTensors) (init: CellState) (options: SequenceOptions) (xs: Tensor) : Tensor * CellState =
        validate cell init options xs
        runUnvalidated cell p init options xs
