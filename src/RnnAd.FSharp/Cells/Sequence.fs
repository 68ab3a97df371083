namespace RnnAd.FSharp

open RnnAd
open RnnAd.FSharp.Storage

/// The state a cell carries from step to step: h of shape (batch, hidden), and for an LSTM also c.
type CellState = { H: Tensor; C: Tensor option }

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

/// One step of any cell kind over a common state type, and the fold of a step over a sequence.
[<RequireQualifiedAccess>]
module Cell =

    /// The zero state of a kind for a batch.
    let zeroState (kind: CellKind) (batch: int) (hidden: int) : CellState =
        let zeros = Tensor.Zeros [| batch; hidden |]
        { H = zeros; C = (if kind = CellKind.Lstm then Some zeros else None) }

    /// One step of the cell `kind`: state → input (batch, input) → state.
    let step (kind: CellKind) (p: CellParams) (s: CellState) (x: Tensor) : CellState =
        match kind with
        | CellKind.RnnTanh -> { H = Rnn.step tanh p s.H x; C = None }
        | CellKind.RnnRelu -> { H = Rnn.step Nn.relu p s.H x; C = None }
        | CellKind.Gru -> { H = Gru.step p s.H x; C = None }
        | CellKind.Lstm ->
            let c = s.C |> Option.defaultWith (fun () -> invalidArg "s" "an LSTM state needs a cell state c")
            let h', c' = Lstm.step p (s.H, c) x
            { H = h'; C = Some c' }

    /// The state after a padded step: the new state where `keep` (batch, 1) is 1, the old one where it is 0,
    /// so padding changes neither later states nor the final one.
    let carry (keep: RawTensor) (next: CellState) (previous: CellState) : CellState =
        { H = Tensor.Where(keep, next.H, previous.H)
          C = Option.map2 (fun n p -> Tensor.Where(keep, n, p)) next.C previous.C }

/// Sequences are folds of a step over the time dimension of a batch-first (batch, time, features) tensor.
[<RequireQualifiedAccess>]
module Sequence =

    /// The states after each step of `step` folded over time: states.[t] follows input t.
    let scan (step: 's -> Tensor -> 's) (init: 's) (xs: Tensor) : 's[] =
        if xs.Rank <> 3 then Shape.fail "sequence" (sprintf "inputs must be (batch, time, features), got %s" (Shape.format xs.Shape))
        Array.init xs.Shape.[1] (fun t -> xs.Select(1, t)) |> Array.scan step init |> Array.tail

    /// The state with its derivatives removed: gradients stop flowing back through it (truncated BPTT).
    let detach (s: CellState) : CellState = { H = Ad.stopGradient s.H; C = Option.map Ad.stopGradient s.C }

    /// Whether truncation detaches the state entering step t (counted from `StartStep`).
    let private cutsAt (o: SequenceOptions) (t: int) : bool =
        match o.DetachEvery with
        | Some k -> o.StartStep + t > 0 && (o.StartStep + t) % k = 0
        | None -> false

    /// The states after every step of the readable step folded over time, with padding, truncation and
    /// probes (see `states`).
    let private plainStates (kind: CellKind) (p: CellParams) (init: CellState) (o: SequenceOptions) (xs: Tensor) : CellState[] =
        let batch, time = xs.Shape.[0], xs.Shape.[1]
        let keepAt =
            match o.Mask with
            | None -> fun _ -> None
            | Some m -> fun t -> Some(Layout.reshape [| batch; 1 |] (Layout.slice 1 t 1 m))
        let step (s: CellState) (t: int) =
            let s = if cutsAt o t then detach s else s
            let next = Cell.step kind p s (xs.Select(1, t))
            let next = match keepAt t with Some keep -> Cell.carry keep next s | None -> next
            match o.Probes with Some ps -> { next with H = next.H + ps.[t] } | None -> next
        Array.init time id |> Array.scan step init |> Array.tail

    /// The whole sequence as one fused op (`FusedSequence`), probes stacked into one input, when every input
    /// is a constant or traced at a single level (training); None for nested or forward-mode derivatives,
    /// which need the readable ops.
    let private fusedRun (kind: CellKind) (p: CellParams) (init: CellState) (o: SequenceOptions) (xs: Tensor) : (Tensor * CellState) option =
        let time = xs.Shape.[1]
        let probeSteps = defaultArg o.Probes [||]
        if not (Op.fusable (Array.append [| xs; p.WeightIh; p.WeightHh; p.BiasIh; p.BiasHh; init.H; defaultArg init.C init.H |] probeSteps)) then None
        else
            let schedule = { Keep = o.Mask |> Option.map (fun m -> m.Data |> Array.map (fun v -> v <> 0.0)); Cut = cutsAt o }
            let probes = o.Probes |> Option.map (fun ps -> Tensor.Stack(ps, 1))
            let single (hs: Tensor) = Some(hs, { H = hs.Select(1, time - 1); C = None })
            match kind with
            | CellKind.RnnTanh -> single (FusedSequence.rnn false schedule p xs init.H probes)
            | CellKind.RnnRelu -> single (FusedSequence.rnn true schedule p xs init.H probes)
            | CellKind.Gru -> single (FusedSequence.gru schedule p xs init.H probes)
            | CellKind.Lstm ->
                let c0 = init.C |> Option.defaultWith (fun () -> invalidArg "init" "an LSTM state needs a cell state c")
                let packed = FusedSequence.lstm schedule p xs init.H c0 probes
                Some(packed.Slice(1, 0, time), { H = packed.Select(1, time - 1); C = Some(packed.Select(1, time)) })

    /// Whether checkpointing applies: segments shorter than the sequence, and no probes (which need every
    /// step's state kept).
    let private checkpointEvery (o: SequenceOptions) (time: int) : int option =
        match o.CheckpointEvery with
        | Some every when every < time && o.Probes.IsNone -> Some every
        | _ -> None

    /// Outputs and last state: checkpointed segments, else the fused op, else the readable fold (nested or
    /// forward-mode derivatives).
    let rec private runUnvalidated (kind: CellKind) (p: CellParams) (init: CellState) (o: SequenceOptions) (xs: Tensor) : Tensor * CellState =
        match checkpointEvery o xs.Shape.[1] with
        | Some every -> checkpointedRun every kind p init o xs
        | None ->
            match fusedRun kind p init o xs with
            | Some result -> result
            | None ->
                let all = plainStates kind p init o xs
                Tensor.Stack(all |> Array.map (fun s -> s.H), 1), Array.last all

    /// Gradient checkpointing: segments of `every` steps, each an `Ad.checkpoint` whose trace is rebuilt
    /// during the reverse sweep, so the trace kept holds only the segments' outputs and boundary states.
    and private checkpointedRun (every: int) (kind: CellKind) (p: CellParams) (init: CellState) (o: SequenceOptions) (xs: Tensor) : Tensor * CellState =
        let time = xs.Shape.[1]
        let lstm = kind = CellKind.Lstm
        // A segment returns its outputs (batch, length, hidden), and for an LSTM its last c as one more step.
        let segment (start: int) (length: int) (inputs: Tensor[]) : Tensor =
            let q = { WeightIh = inputs.[2]; WeightHh = inputs.[3]; BiasIh = inputs.[4]; BiasHh = inputs.[5] }
            let options = { o with StartStep = o.StartStep + start; Mask = o.Mask |> Option.map (Layout.slice 1 start length); CheckpointEvery = None }
            let outputs, last = runUnvalidated kind q { H = inputs.[0]; C = (if lstm then Some inputs.[1] else None) } options inputs.[6]
            if lstm then Tensor.Concat([ outputs; last.C.Value.Unsqueeze 1 ], 1) else outputs
        let pieces = ResizeArray<Tensor>()
        let mutable state = init
        for start in 0 .. every .. time - 1 do
            let length = min every (time - start)
            let packed =
                Ad.checkpoint (segment start length)
                    [| state.H; defaultArg state.C state.H; p.WeightIh; p.WeightHh; p.BiasIh; p.BiasHh; xs.Slice(1, start, length) |]
            pieces.Add(if lstm then packed.Slice(1, 0, length) else packed)
            state <- { H = packed.Select(1, length - 1); C = (if lstm then Some(packed.Select(1, length)) else None) }
        Tensor.Concat(List.ofSeq pieces, 1), state

    /// Refuses options that do not fit inputs (batch, time, features).
    let private validate (options: SequenceOptions) (xs: Tensor) =
        if xs.Rank <> 3 || xs.Shape.[1] = 0 then
            Shape.fail "sequence" (sprintf "inputs must be (batch, time ≥ 1, features), got %s" (Shape.format xs.Shape))
        let batch, time = xs.Shape.[0], xs.Shape.[1]
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
    /// time, or with checkpointing the outputs of `run` with c kept for the last step only.
    let states (kind: CellKind) (p: CellParams) (init: CellState) (options: SequenceOptions) (xs: Tensor) : CellState[] =
        validate options xs
        match checkpointEvery options xs.Shape.[1] with
        | Some every ->
            let outputs, last = checkpointedRun every kind p init options xs
            Array.init xs.Shape.[1] (fun t -> if t = xs.Shape.[1] - 1 then last else { H = outputs.Select(1, t); C = None })
        | None -> plainStates kind p init options xs

    /// Runs a cell over a sequence from `init`: every step's h stacked as (batch, time, hidden), and the last
    /// state (see `SequenceOptions` for masks, truncation, probes and checkpointing). Single-level training
    /// runs the whole sequence as one fused op.
    let run (kind: CellKind) (p: CellParams) (init: CellState) (options: SequenceOptions) (xs: Tensor) : Tensor * CellState =
        validate options xs
        runUnvalidated kind p init options xs
