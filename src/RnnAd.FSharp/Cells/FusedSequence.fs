namespace RnnAd.FSharp

open RnnAd
open System
open System.Runtime.CompilerServices
open RnnAd.FSharp.Storage

/// One row of the batch at one step, as the forward pass of a fused sequence hands it to a cell's pointwise
/// code. `Pre` and `Recurrent` are gates·hidden wide, `Saved` is the cell's own width, `H` and `HNext` hidden,
/// `Rest` and `RestNext` (slots − 1)·hidden.
[<Struct; IsByRefLike; IsReadOnly>]
type internal ForwardRow(pre: Span<float>, recurrent: Span<float>, saved: Span<float>, h: ReadOnlySpan<float>, rest: ReadOnlySpan<float>,
                         hNext: Span<float>, restNext: Span<float>) =
    /// The pre-activations x·W_ihᵀ + h·W_hhᵀ + b_ih + b_hh (a split cell's: x·W_ihᵀ + b_ih; no biases in a
    /// bias-free cell); the cell may overwrite them with what its backward pass reads (its activated gates).
    member _.Pre = pre
    /// A split cell's h·W_hhᵀ + b_hh (without b_hh in a bias-free cell); empty for the others.
    member _.Recurrent = recurrent
    /// The cell's own values kept for its backward pass, to write.
    member _.Saved = saved
    /// h entering the step (the previous step's output plus its probe, if any).
    member _.H = h
    /// The state slots beyond h entering the step, one after the other.
    member _.Rest = rest
    /// h leaving the step, to write (unless the cell's `OutputIsPre`).
    member _.HNext = hNext
    /// The state slots beyond h leaving the step, to write.
    member _.RestNext = restNext

/// One row of the batch at one step, as the backward pass of a fused sequence hands it to a cell's pointwise
/// code: what the forward pass left, ∂L/∂ of the state leaving the step, and the adjoints to write.
[<Struct; IsByRefLike; IsReadOnly>]
type internal BackwardRow(pre: ReadOnlySpan<float>, recurrent: ReadOnlySpan<float>, saved: ReadOnlySpan<float>, h: ReadOnlySpan<float>,
                          rest: ReadOnlySpan<float>, hNext: ReadOnlySpan<float>, dhNext: ReadOnlySpan<float>, dRest: Span<float>, dh: Span<float>,
                          dPre: Span<float>, dRecurrent: Span<float>) =
    /// `Pre` as the forward pass left it.
    member _.Pre = pre
    /// `Recurrent` as the forward pass left it (split cells).
    member _.Recurrent = recurrent
    /// What the cell saved.
    member _.Saved = saved
    /// h entering the step.
    member _.H = h
    /// The state slots beyond h entering the step.
    member _.Rest = rest
    /// h leaving the step as the next step reads it: with probes, the cell's output plus the probe, so a cell
    /// must not read its activation's derivative off it (it keeps act(pre) in `Pre` or `Saved` instead).
    member _.HNext = hNext
    /// ∂L/∂h leaving the step, from the outputs and the later steps together.
    member _.DHNext = dhNext
    /// In: ∂L/∂ of the slots beyond h leaving the step. Out (the cell overwrites it): ∂L/∂ of those entering.
    member _.DRest = dRest
    /// Zero on entry; out: the part of ∂L/∂h entering the step that does not pass through W_hh (the GRU's
    /// z⊙∂L/∂h'). The product with W_hh is added afterwards.
    member _.DH = dh
    /// Zero on entry, or ∂L/∂h' (`DHNext` itself) for a cell whose `OutputIsPre`; out: ∂L/∂Pre (for a cell
    /// that is not split, also ∂L/∂(h·W_hhᵀ + b_hh)).
    member _.DPre = dPre
    /// Zero on entry; out: a split cell's ∂L/∂Recurrent; empty for the others.
    member _.DRecurrent = dRecurrent

/// A cell's pointwise code for a fused sequence: what happens to one row of pre-activations at one step, and
/// its adjoint. The rest — the time loop, the input projection, the recurrent products, the biases, padding,
/// probes, truncation and every parameter adjoint — is `FusedSequence.kernel`'s, written once for every cell.
type internal PointwiseCell =
    /// Blocks of `hidden` rows that W_ih and W_hh stack (1, 4 or 3).
    abstract Gates: int
    /// State slots: h, then slots − 1 more carried alongside (an LSTM's c).
    abstract Slots: int
    /// Blocks of `hidden` values the cell saves per row and step for its backward pass.
    abstract SavedBlocks: int
    /// Whether h·W_hhᵀ + b_hh stays apart from x·W_ihᵀ + b_ih (the GRU scales part of it by r) instead of
    /// being added into the same pre-activations (RNN, LSTM).
    abstract Split: bool
    /// Whether h' is `Pre` itself after `Forward` (one gate, activated in place: the Elman RNN), so the
    /// kernel copies it out, or without probes lets the outputs be the pre-activation buffer; and backward,
    /// hands ∂L/∂h' over in `DPre`, to be turned into ∂L/∂pre in place.
    abstract OutputIsPre: bool
    /// One row forward.
    abstract Forward: row: ForwardRow -> unit
    /// One row backward.
    abstract Backward: row: BackwardRow -> unit

/// A whole recurrence over a sequence as one op, input projection included: the fast path of `Sequence.run`
/// for single-level training. The readable cells (Rnn.fs, Lstm.fs, Gru.fs) folded step by step are the
/// definition; `FusedKernelCheck` holds a kernel to its cell's in value and gradient, with padding,
/// truncation and probes.
///
/// Why a whole sequence: one op per step costs a node, its buffers and a small weight-gradient product per
/// step. Here the input projection x·W_ihᵀ of every step is one product written straight into the
/// pre-activation buffer, each step adds its hₜ₋₁·W_hhᵀ in place, and the backward pass keeps every step's
/// pre-activation adjoint in one array, from which ∂L/∂W_ih, ∂L/∂x and the bias adjoints are each one product
/// or one pass, and ∂L/∂W_hh = Σ_t dgₜᵀ·hₜ₋₁ one product per batch row with k = time − 1. A cell supplies only
/// its `PointwiseCell`: one call per row and step, never per element.
///
/// Layouts follow the batch-first inputs (batch, time, features): step t of row b of any per-step buffer of
/// width w sits at (b·time + t)·w. The outputs are (batch, time + slots − 1, hidden): every step's h, then the
/// last step's slots beyond h.
[<RequireQualifiedAccess>]
module internal FusedSequence =

    let private fail (message: string) = Shape.fail "fused sequence" message

    /// Where the op's inputs sit: x, W_ih, [b_ih], the initial state's slots, W_hh, [b_hh], [probes]. The
    /// parameters keep the order the cells' kernels always had, so adjoints reach them in the same order.
    [<Struct>]
    type private Inputs =
        { Bias: bool
          Slots: int }
        member _.InputBias = 2
        member i.State(slot: int) = (if i.Bias then 3 else 2) + slot
        member i.RecurrentWeight = i.State i.Slots
        member i.RecurrentBias = i.RecurrentWeight + 1
        member i.Probes = i.RecurrentWeight + (if i.Bias then 2 else 1)

    /// batch, time and hidden of inputs x (batch, time, input) and h0 (batch, hidden), after checking the other
    /// state slots (as h0), the weights (gates·hidden, input), (gates·hidden, hidden) and the biases (gates·hidden).
    let private sizes (gates: int) (at: Inputs) (r: RawTensor[]) =
        let x, h0, wih, whh = r.[0], r.[at.State 0], r.[1], r.[at.RecurrentWeight]
        if h0.Rank <> 2 then fail (sprintf "the initial state must be (batch, hidden), got %s" (Shape.format h0.Shape))
        let batch, hidden = h0.Shape.[0], h0.Shape.[1]
        if x.Rank <> 3 || x.Shape.[0] <> batch || x.Shape.[1] < 1 then
            fail (sprintf "inputs %s do not fit a state %s: expected (%d, time ≥ 1, features)" (Shape.format x.Shape) (Shape.format h0.Shape) batch)
        for k in 1 .. at.Slots - 1 do
            if not (Shape.equal r.[at.State k].Shape h0.Shape) then
                fail (sprintf "state slot %d has shape %s, h0 %s" k (Shape.format r.[at.State k].Shape) (Shape.format h0.Shape))
        let width = gates * hidden
        if not (Shape.equal wih.Shape [| width; x.Shape.[2] |]) || not (Shape.equal whh.Shape [| width; hidden |]) then
            fail (sprintf "W_ih %s, W_hh %s, expected (%d, %d), (%d, %d)" (Shape.format wih.Shape) (Shape.format whh.Shape) width x.Shape.[2] width hidden)
        if at.Bias && not (Shape.equal r.[at.InputBias].Shape [| width |] && Shape.equal r.[at.RecurrentBias].Shape [| width |]) then
            fail (sprintf "b_ih %s, b_hh %s, expected (%d)" (Shape.format r.[at.InputBias].Shape) (Shape.format r.[at.RecurrentBias].Shape) width)
        batch, x.Shape.[1], hidden

    let private checkKeep (schedule: SequenceSchedule) (batch: int) (time: int) =
        match schedule.Keep with
        | Some k when k.Length <> batch * time -> fail (sprintf "%d padding flags for batch %d and time %d" k.Length batch time)
        | _ -> ()

    let private kept (schedule: SequenceSchedule) (time: int) (b: int) (t: int) =
        match schedule.Keep with
        | Some k -> k.[b * time + t]
        | None -> true

    /// Row b of the state entering step t from a per-step buffer of `width` values and `steps` steps per row:
    /// the initial row at t = 0, else step t − 1's.
    let private previousRow (initial: float[]) (buffer: float[]) (steps: int) (width: int) (b: int) (t: int) : ReadOnlySpan<float> =
        if t = 0 then ReadOnlySpan(initial, b * width, width) else ReadOnlySpan(buffer, (b * steps + t - 1) * width, width)

    /// Wᵀ of a (rows, columns) matrix, contiguous: the per-step products read W_hh as hₜ₋₁·W_hhᵀ, which
    /// OpenBLAS runs ~10% faster as a plain product with the transpose laid out (Prescott and SkylakeX
    /// kernels, 64×300×300).
    let private transposed (w: RawTensor) : float[] =
        let rows, columns = w.Shape.[0], w.Shape.[1]
        let out = Array.zeroCreate (rows * columns)
        for i in 0 .. rows - 1 do
            for j in 0 .. columns - 1 do
                out.[j * rows + i] <- w.Data.[i * columns + j]
        out

    /// x·W_ihᵀ for every step at once, (batch, time, width), one product; the biases are added row by row
    /// in the step loop, where each row is read anyway.
    let private project (x: RawTensor) (wih: RawTensor) : float[] =
        let rows, input, width = x.Shape.[0] * x.Shape.[1], x.Shape.[2], wih.Shape.[0]
        let out = Array.zeroCreate (rows * width)
        Gemm.gemm false false rows width input 1.0 x.Data 0 input (transposed wih) 0 width 0.0 out 0 width
        out

    /// pre[:, t] += hₜ₋₁·W_hhᵀ in place, from W_hhᵀ (hidden, width), for `pre` (batch, time, width) and the
    /// states h0 and `outputs` (batch, steps, hidden).
    let private addRecurrent (whhT: float[]) (h0: float[]) (outputs: float[]) (steps: int) (batch: int) (time: int) (hidden: int) (t: int) (pre: float[]) =
        let width = whhT.Length / hidden
        if t = 0 then Gemm.gemm false false batch width hidden 1.0 h0 0 hidden whhT 0 width 1.0 pre 0 (time * width)
        else Gemm.gemm false false batch width hidden 1.0 outputs ((t - 1) * hidden) (steps * hidden) whhT 0 width 1.0 pre (t * width) (time * width)

    /// Adds `bias` to row (b, t) of a (batch, time, width) buffer in place.
    let private addBias (bias: float[]) (buffer: float[]) (offset: int) =
        let row = buffer.AsSpan(offset, bias.Length)
        VectorMath.add (Span<float>.op_Implicit row) (ReadOnlySpan bias) row

    /// A contribution that adds itself into the sweep's buffer of `shape`, or builds a fresh tensor.
    let private adding (shape: int[]) (add: float[] -> unit) : Contribution =
        Sparse((fun () ->
                    let out = RawTensor.zeros shape
                    add out.Data
                    Tensor.Constant out),
               fun buffer -> add buffer; true)

    /// The contributions of the input side from pre-activation adjoints dg (batch, time, width): ∂L/∂x =
    /// dg·W_ih (only when x needs one) and ∂L/∂W_ih = dgᵀ·x.
    let private inputContributions (dg: float[]) (x: RawTensor) (wih: RawTensor) (xNeeded: bool) : Contribution * Contribution =
        let rows, input, width = x.Shape.[0] * x.Shape.[1], x.Shape.[2], wih.Shape.[0]
        let dx =
            if not xNeeded then Unchecked.defaultof<_>
            else
                let out = Array.zeroCreate (rows * input)
                Gemm.gemm false false rows input width 1.0 dg 0 width wih.Data 0 input 0.0 out 0 input
                Dense(Tensor.Constant(RawTensor.ofOwned x.Shape out))
        dx, adding wih.Shape (fun buffer -> Gemm.gemm true false width input rows 1.0 dg 0 width x.Data 0 input 1.0 buffer 0 input)

    /// ∂L/∂W_hh = Σ_t dgₜᵀ·hₜ₋₁ from dg (batch, time, width) and the states: per batch row one product over
    /// steps 1…time−1, plus one for step 0 against h0.
    let private recurrentWeight (dg: float[]) (width: int) (h0: float[]) (outputs: float[]) (steps: int)
                                (batch: int) (time: int) (hidden: int) : Contribution =
        adding [| width; hidden |] (fun buffer ->
            Gemm.gemm true false width hidden batch 1.0 dg 0 (time * width) h0 0 hidden 1.0 buffer 0 hidden
            if time > 1 then
                for b in 0 .. batch - 1 do
                    Gemm.gemm true false width hidden (time - 1) 1.0 dg ((b * time + 1) * width) width outputs (b * steps * hidden) hidden 1.0 buffer 0 hidden)

    /// The adjoint of a bias added at every step: Σ dg over rows and steps, summed once.
    let private biasSums (dg: float[]) (width: int) : float[] =
        let sums = Array.zeroCreate width
        VectorMath.addColumnSums (ReadOnlySpan dg) width (Span sums)
        sums

    let private addingSums (sums: float[]) : Contribution =
        adding [| sums.Length |] (fun buffer -> VectorMath.add (ReadOnlySpan buffer) (ReadOnlySpan sums) (Span buffer))

    /// ∂L/∂hₜ₋₁ through the recurrence into `dh` (batch, hidden): dgₜ·W_hh added onto what `dh` holds
    /// (the pass-through of padded rows and the cells' direct parts), or zero where truncation cuts.
    let private recurrentAdjoint (schedule: SequenceSchedule) (dg: float[]) (whh: float[]) (batch: int) (time: int) (hidden: int) (t: int) (dh: float[]) =
        let width = whh.Length / hidden
        if schedule.Cut t then Array.Clear dh
        else Gemm.gemm false false batch hidden width 1.0 dg (t * width) (time * width) whh 0 hidden 1.0 dh 0 hidden

    let private constant (shape: int[]) (data: float[]) = Dense(Tensor.Constant(RawTensor.ofOwned shape data))

    /// The probes' values, if the op was given any (input `index`), after checking their shape.
    let private probeValues (r: RawTensor[]) (index: int) (batch: int) (time: int) (hidden: int) : float[] voption =
        if r.Length <= index then ValueNone
        elif Shape.equal r.[index].Shape [| batch; time; hidden |] then ValueSome r.[index].Data
        else fail (sprintf "probes have shape %s, expected (%d, %d, %d)" (Shape.format r.[index].Shape) batch time hidden)

    /// Adds probe row (b, t) to an output row: hₜ + probeₜ is the state the next step reads.
    let private addProbe (probes: float[] voption) (offset: int) (row: Span<float>) =
        match probes with
        | ValueSome p -> VectorMath.add (Span<float>.op_Implicit row) (ReadOnlySpan(p, offset, row.Length)) row
        | ValueNone -> ()

    /// b_ih + b_hh, added once: a cell that is not split adds both biases to the same pre-activation.
    let private bothBiases (bih: RawTensor) (bhh: RawTensor) : float[] =
        let sum = Array.zeroCreate bih.Numel
        VectorMath.add (ReadOnlySpan bih.Data) (ReadOnlySpan bhh.Data) (Span sum)
        sum

    /// Rows of `width` values per batch row gathered from `parts` tensors (batch, part) side by side: the
    /// state slots beyond h, one row per sequence. One slot needs no copy.
    let private sideBySide (parts: RawTensor[]) (batch: int) (part: int) : float[] =
        if parts.Length = 1 then parts.[0].Data
        else
            let out = Array.zeroCreate (batch * part * parts.Length)
            for b in 0 .. batch - 1 do
                parts |> Array.iteri (fun k p -> Array.Copy(p.Data, b * part, out, (b * parts.Length + k) * part, part))
            out

    /// The widths of a row's pre-activations (gates·hidden), of its state slots beyond h and of the cell's
    /// saved values, and the steps of the packed outputs (time, then the last state's slots beyond h).
    let private widths (cell: PointwiseCell) (time: int) (hidden: int) : int * int * int * int =
        cell.Gates * hidden, (cell.Slots - 1) * hidden, cell.SavedBlocks * hidden, time + cell.Slots - 1

    /// What the forward pass leaves the backward pass: the pre-activations as the cell left them, the
    /// recurrent parts of a split cell, the slots beyond h after every step, and the cell's saved values.
    type private Trace =
        { Pre: float[]
          Recurrent: float[]
          Rest: float[]
          Saved: float[] }

    /// The forward pass: every step's h (plus its probe) and the last state's other slots, packed as
    /// (batch, time + slots − 1, hidden).
    let private forward (cell: PointwiseCell) (at: Inputs) (schedule: SequenceSchedule) (trace: Trace ref) (r: RawTensor[]) : RawTensor =
        let batch, time, hidden = sizes cell.Gates at r
        checkKeep schedule batch time
        let probe = probeValues r at.Probes batch time hidden
        let width, restWidth, savedWidth, steps = widths cell time hidden
        let h0, whhT = r.[at.State 0].Data, transposed r.[at.RecurrentWeight]
        let rest0 = sideBySide (Array.sub r (at.State 1) (cell.Slots - 1)) batch hidden
        // A split cell adds each bias to its own part; the others add their sum once per row.
        let inputBias, recurrentBias =
            if not at.Bias then null, null
            elif cell.Split then r.[at.InputBias].Data, r.[at.RecurrentBias].Data
            else bothBiases r.[at.InputBias] r.[at.RecurrentBias], null
        let split, outputIsPre = cell.Split, cell.OutputIsPre
        let pre = project r.[0] r.[1]
        let recurrent = if split then Array.zeroCreate pre.Length else pre
        // An RNN's output is its activated pre-activations: without probes the outputs are that very buffer.
        let inPlace = outputIsPre && probe.IsNone
        let out = if inPlace then pre else Array.zeroCreate (batch * steps * hidden)
        let rest = Array.zeroCreate (batch * time * restWidth)
        let saved = Array.zeroCreate (batch * time * savedWidth)
        for t in 0 .. time - 1 do
            addRecurrent whhT h0 out steps batch time hidden t recurrent
            for b in 0 .. batch - 1 do
                let s, o = b * time + t, (b * steps + t) * hidden
                let h = previousRow h0 out steps hidden b t
                let restBefore = previousRow rest0 rest time restWidth b t
                if kept schedule time b t then
                    if not (isNull inputBias) then addBias inputBias pre (s * width)
                    if not (isNull recurrentBias) then addBias recurrentBias recurrent (s * width)
                    cell.Forward(
                        ForwardRow(pre.AsSpan(s * width, width), (if split then recurrent.AsSpan(s * width, width) else Span<float>.Empty),
                                   saved.AsSpan(s * savedWidth, savedWidth), h, restBefore, out.AsSpan(o, hidden), rest.AsSpan(s * restWidth, restWidth)))
                    if outputIsPre && not inPlace then pre.AsSpan(s * width, hidden).CopyTo(out.AsSpan(o, hidden))
                else
                    // padding: the state carries over unchanged
                    h.CopyTo(out.AsSpan(o, hidden))
                    restBefore.CopyTo(rest.AsSpan(s * restWidth, restWidth))
                addProbe probe (s * hidden) (out.AsSpan(o, hidden))
        if restWidth > 0 then
            for b in 0 .. batch - 1 do
                rest.AsSpan((b * time + time - 1) * restWidth, restWidth).CopyTo(out.AsSpan((b * steps + time) * hidden, restWidth))
        trace.Value <- { Pre = pre; Recurrent = recurrent; Rest = rest; Saved = saved }
        RawTensor.ofOwned [| batch; steps; hidden |] out

    /// The backward pass: one contribution per input, from the adjoint g of the packed outputs f.
    let private backward (cell: PointwiseCell) (at: Inputs) (schedule: SequenceSchedule) (trace: Trace) (r: RawTensor[]) (f: RawTensor) (g: RawTensor) (needed: bool[]) : Contribution[] =
        let h0 = r.[at.State 0]
        let batch, time, hidden = h0.Shape.[0], r.[0].Shape.[1], h0.Shape.[1]
        let width, restWidth, savedWidth, steps = widths cell time hidden
        let outputs, gd, whh = f.Data, g.Data, r.[at.RecurrentWeight].Data
        let rest0 = sideBySide (Array.sub r (at.State 1) (cell.Slots - 1)) batch hidden
        let split = cell.Split
        let dPre = Array.zeroCreate (batch * time * width)
        let dRecurrent = if split then Array.zeroCreate dPre.Length else dPre
        let dprobe = if r.Length > at.Probes then Array.zeroCreate (batch * time * hidden) else null
        let dh = Array.zeroCreate (batch * hidden) // ∂L/∂hₜ through the recurrence alone
        // ∂L/∂ of the slots beyond h: the last state's from the packed outputs, then through the recurrence
        let dRest = Array.zeroCreate (batch * restWidth)
        for b in 0 .. batch - 1 do
            Array.Copy(gd, (b * steps + time) * hidden, dRest, b * restWidth, restWidth)
        // ∂L/∂h leaving a step: where h' is Pre, in DPre itself (the cell turns it into ∂L/∂pre in place);
        // else in the probe's adjoint row when there are probes, or in a scratch row
        let outputIsPre = cell.OutputIsPre
        let scratch = if isNull dprobe && not outputIsPre then Array.zeroCreate hidden else null
        for t in time - 1 .. -1 .. 0 do
            for b in 0 .. batch - 1 do
                let s, o, sh = b * time + t, (b * steps + t) * hidden, b * hidden
                if kept schedule time b t then
                    let dhNext =
                        if outputIsPre then dPre.AsSpan(s * width, hidden)
                        elif isNull dprobe then scratch.AsSpan()
                        else dprobe.AsSpan(s * hidden, hidden)
                    VectorMath.add (ReadOnlySpan(gd, o, hidden)) (ReadOnlySpan(dh, sh, hidden)) dhNext
                    if outputIsPre && not (isNull dprobe) then dhNext.CopyTo(dprobe.AsSpan(s * hidden, hidden))
                    Array.Clear(dh, sh, hidden)
                    cell.Backward(
                        BackwardRow(ReadOnlySpan(trace.Pre, s * width, width),
                                    (if split then ReadOnlySpan(trace.Recurrent, s * width, width) else ReadOnlySpan<float>.Empty),
                                    ReadOnlySpan(trace.Saved, s * savedWidth, savedWidth),
                                    previousRow h0.Data outputs steps hidden b t, previousRow rest0 trace.Rest time restWidth b t,
                                    ReadOnlySpan(outputs, o, hidden), Span<float>.op_Implicit dhNext, dRest.AsSpan(b * restWidth, restWidth),
                                    dh.AsSpan(sh, hidden), dPre.AsSpan(s * width, width),
                                    (if split then dRecurrent.AsSpan(s * width, width) else Span<float>.Empty)))
                else
                    // padding passed the state through: its adjoint goes straight to the state before
                    for j in 0 .. hidden - 1 do
                        dh.[sh + j] <- dh.[sh + j] + gd.[o + j]
                    if not (isNull dprobe) then Array.Copy(dh, sh, dprobe, s * hidden, hidden)
            recurrentAdjoint schedule dRecurrent whh batch time hidden t dh
            if schedule.Cut t then Array.Clear dRest
        let dx, dwih = inputContributions dPre r.[0] r.[1] needed.[0]
        // b_ih's and b_hh's adjoints: one sum each for a split cell, else the same sum for both
        let biasIh, biasHh =
            if not at.Bias then [||], [||]
            elif split then [| addingSums (biasSums dPre width) |], [| addingSums (biasSums dRecurrent width) |]
            else
                let sums = biasSums dPre width
                [| addingSums sums |], [| addingSums sums |]
        let restSlots =
            if cell.Slots = 2 then [| constant h0.Shape dRest |]
            else
                Array.init (cell.Slots - 1) (fun k ->
                    let slot = Array.zeroCreate (batch * hidden)
                    for b in 0 .. batch - 1 do
                        Array.Copy(dRest, b * restWidth + k * hidden, slot, b * hidden, hidden)
                    constant h0.Shape slot)
        Array.concat
            [ [| dx; dwih |]
              biasIh
              [| constant h0.Shape dh |]
              restSlots
              [| recurrentWeight dRecurrent width h0.Data outputs steps batch time hidden |]
              biasHh
              (if isNull dprobe then [||] else [| constant r.[at.Probes].Shape dprobe |]) ]

    /// The fused kernel of a cell in PyTorch's layout (`weight_ih`, `weight_hh` and, with `bias`, `bias_ih`
    /// and `bias_hh`), from its pointwise code.
    let kernel (cell: PointwiseCell) (bias: bool) : SequenceKernel =
        if cell.Gates < 1 || cell.Slots < 1 || cell.SavedBlocks < 0 then
            invalidArg "cell" (sprintf "gates %d, slots %d and saved blocks %d: expected ≥ 1, ≥ 1, ≥ 0" cell.Gates cell.Slots cell.SavedBlocks)
        if cell.OutputIsPre && (cell.Gates <> 1 || cell.Slots <> 1) then invalidArg "cell" "only a one-gate, one-slot cell can output its pre-activations"
        let at = { Bias = bias; Slots = cell.Slots }
        fun schedule p x init probes ->
            let parameters = if bias then [| p.["weight_ih"]; p.["bias_ih"] |] else [| p.["weight_ih"] |]
            let recurrent = if bias then [| p.["weight_hh"]; p.["bias_hh"] |] else [| p.["weight_hh"] |]
            let inputs = Array.concat [ [| x |]; parameters; init.Slots; recurrent; Option.toArray probes ]
            let trace = ref Unchecked.defaultof<Trace>
            let packed = Op.fused inputs (forward cell at schedule trace) (fun r f g needed -> backward cell at schedule trace.Value r f g needed)
            let time = x.Shape.[1]
            let outputs = if cell.Slots = 1 then packed else packed.Slice(1, 0, time)
            outputs, { Slots = Array.init cell.Slots (fun k -> packed.Select(1, (if k = 0 then time - 1 else time + k - 1))) }

    /// The Elman RNN, h' = act(pre) with act tanh or relu, activated in place: `Pre` keeps act(pre) for the
    /// backward pass, which must not read it off h' (with probes h' is act(pre) + probe).
    let rnn (relu: bool) : PointwiseCell =
        { new PointwiseCell with
            member _.Gates = 1
            member _.Slots = 1
            member _.SavedBlocks = 0
            member _.Split = false
            member _.OutputIsPre = true
            member _.Forward row =
                let a = row.Pre
                if relu then
                    // relu passes NaN on, as the readable Nn.relu does
                    for j in 0 .. a.Length - 1 do
                        if not (a.[j] > 0.0 || Double.IsNaN a.[j]) then a.[j] <- 0.0
                else VectorMath.tanhInPlace a
            member _.Backward row =
                // h' = act(pre): ∂pre = ∂h' ⊙ act'(pre), with act' read off act(pre); ∂h' arrives in DPre
                let d = row.DPre
                if relu then
                    let a = row.Pre
                    for j in 0 .. d.Length - 1 do
                        if not (a.[j] > 0.0) then d.[j] <- 0.0
                else VectorMath.tanhAdjoint row.Pre d }

    /// The LSTM: gates i, f, g, o activated in place in `Pre`, c' = f⊙c + i⊙g in the slot beyond h, tanh c'
    /// saved, h' = o⊙tanh(c').
    let lstm: PointwiseCell =
        { new PointwiseCell with
            member _.Gates = 4
            member _.Slots = 2
            member _.SavedBlocks = 1
            member _.Split = false
            member _.OutputIsPre = false
            member _.Forward row =
                let a = row.Pre
                let hidden = row.H.Length
                VectorMath.sigmoidInPlace (a.Slice(0, 2 * hidden)) // i and f
                VectorMath.tanhInPlace (a.Slice(2 * hidden, hidden)) // g
                VectorMath.sigmoidInPlace (a.Slice(3 * hidden, hidden)) // o
                let c = row.RestNext
                let cPrev = row.Rest
                for j in 0 .. hidden - 1 do
                    c.[j] <- a.[hidden + j] * cPrev.[j] + a.[j] * a.[2 * hidden + j]
                let tc = row.Saved
                c.CopyTo tc
                VectorMath.tanhInPlace tc
                let h = row.HNext
                for j in 0 .. hidden - 1 do
                    h.[j] <- a.[3 * hidden + j] * tc.[j]
            member _.Backward row =
                let a = row.Pre
                let hidden = row.H.Length
                let tc = row.Saved
                let cPrev = row.Rest
                let dhNext = row.DHNext
                let dc = row.DRest
                let dg = row.DPre
                for j in 0 .. hidden - 1 do
                    let i, fg, gg, og = a.[j], a.[hidden + j], a.[2 * hidden + j], a.[3 * hidden + j]
                    let th = tc.[j]
                    let dhNew = dhNext.[j]
                    // h' = o⊙tanh(c'): ∂c' gets the recurrent adjoint plus ∂h'⊙o⊙(1 − tanh²c')
                    let dcNew = dc.[j] + dhNew * og * (1.0 - th * th)
                    // c' = f⊙c + i⊙g
                    dc.[j] <- dcNew * fg
                    dg.[j] <- dcNew * gg * i * (1.0 - i)
                    dg.[hidden + j] <- dcNew * cPrev.[j] * fg * (1.0 - fg)
                    dg.[2 * hidden + j] <- dcNew * i * (1.0 - gg * gg)
                    dg.[3 * hidden + j] <- dhNew * th * og * (1.0 - og) }

    /// The GRU in PyTorch's form, split: with xp = x·W_ihᵀ + b_ih in `Pre` and hh = h·W_hhᵀ + b_hh in
    /// `Recurrent`, r = σ(xp_r + hh_r), z = σ(xp_z + hh_z), n = tanh(xp_n + r⊙hh_n) (saved as r, z, n), and
    /// h' = (1 − z)⊙n + z⊙h.
    let gru: PointwiseCell =
        { new PointwiseCell with
            member _.Gates = 3
            member _.Slots = 1
            member _.SavedBlocks = 3
            member _.Split = true
            member _.OutputIsPre = false
            member _.Forward row =
                let xp = row.Pre
                let hh = row.Recurrent
                let rzn = row.Saved
                let hidden = row.H.Length
                VectorMath.add (Span<float>.op_Implicit (xp.Slice(0, 2 * hidden))) (Span<float>.op_Implicit (hh.Slice(0, 2 * hidden))) (rzn.Slice(0, 2 * hidden))
                VectorMath.sigmoidInPlace (rzn.Slice(0, 2 * hidden)) // r and z
                for j in 0 .. hidden - 1 do
                    rzn.[2 * hidden + j] <- xp.[2 * hidden + j] + rzn.[j] * hh.[2 * hidden + j]
                VectorMath.tanhInPlace (rzn.Slice(2 * hidden, hidden)) // n
                let h = row.H
                let hNext = row.HNext
                for j in 0 .. hidden - 1 do
                    let z, n = rzn.[hidden + j], rzn.[2 * hidden + j]
                    hNext.[j] <- (1.0 - z) * n + z * h.[j]
            member _.Backward row =
                let rzn = row.Saved
                let hh = row.Recurrent
                let h = row.H
                let dhNext = row.DHNext
                let dxp = row.DPre
                let dhh = row.DRecurrent
                let dh = row.DH
                let hidden = h.Length
                for j in 0 .. hidden - 1 do
                    let rg, z, n = rzn.[j], rzn.[hidden + j], rzn.[2 * hidden + j]
                    let d = dhNext.[j]
                    // h' = (1 − z)⊙n + z⊙h
                    let dpz = d * (h.[j] - n) * z * (1.0 - z)
                    let dpn = d * (1.0 - z) * (1.0 - n * n) // through n = tanh(·)
                    // n's argument xp_n + r⊙hh_n
                    let dpr = dpn * hh.[2 * hidden + j] * rg * (1.0 - rg)
                    dxp.[j] <- dpr
                    dxp.[hidden + j] <- dpz
                    dxp.[2 * hidden + j] <- dpn
                    dhh.[j] <- dpr
                    dhh.[hidden + j] <- dpz
                    dhh.[2 * hidden + j] <- dpn * rg
                    dh.[j] <- d * z } // the direct path h → h'; the kernel adds the one through hh
