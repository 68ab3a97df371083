namespace RnnAd.FSharp

open RnnAd
open System
open RnnAd.FSharp.Storage

/// A whole recurrence over a sequence as one op, input projection included: the fast path of
/// `Sequence.run` for single-level training. The readable cells (Rnn.fs, Lstm.fs, Gru.fs) folded step by
/// step are the definition; tests check these kernels against them in value and gradient, with padding,
/// truncation and probes.
///
/// Why a whole sequence: one op per step costs a node, its buffers and a small weight-gradient product per
/// step. Here the input projection x·W_ihᵀ of every step is one product written straight into the
/// pre-activation buffer, each step adds its hₜ₋₁·W_hhᵀ in place, and the backward pass keeps every step's
/// pre-activation adjoint dg in one array, from which ∂L/∂W_ih, ∂L/∂x and the bias adjoints are each one
/// product or one pass, and ∂L/∂W_hh = Σ_t dgₜᵀ·hₜ₋₁ one product per batch row with k = time − 1.
///
/// Layouts follow the batch-first inputs (batch, time, features): step t of row b of any per-step buffer of
/// width w sits at (b·time + t)·w.
[<RequireQualifiedAccess>]
module internal FusedSequence =

    let private fail (message: string) = Shape.fail "fused sequence" message

    /// batch, time and hidden of inputs x (batch, time, input) and h0 (batch, hidden), after checking the
    /// weights (gates·hidden, input), (gates·hidden, hidden) and biases (gates·hidden).
    let private sizes (gates: int) (x: RawTensor) (wih: RawTensor) (bih: RawTensor) (h0: RawTensor) (whh: RawTensor) (bhh: RawTensor) =
        if h0.Rank <> 2 then fail (sprintf "the initial state must be (batch, hidden), got %s" (Shape.format h0.Shape))
        let batch, hidden = h0.Shape.[0], h0.Shape.[1]
        if x.Rank <> 3 || x.Shape.[0] <> batch || x.Shape.[1] < 1 then
            fail (sprintf "inputs %s do not fit a state %s: expected (%d, time ≥ 1, features)" (Shape.format x.Shape) (Shape.format h0.Shape) batch)
        let width = gates * hidden
        let fits (w: RawTensor) (b: RawTensor) columns = Shape.equal w.Shape [| width; columns |] && Shape.equal b.Shape [| width |]
        if not (fits wih bih x.Shape.[2]) || not (fits whh bhh hidden) then
            fail (sprintf "W_ih %s, b_ih %s, W_hh %s, b_hh %s, expected (%d, %d), (%d), (%d, %d), (%d)" (Shape.format wih.Shape) (Shape.format bih.Shape)
                      (Shape.format whh.Shape) (Shape.format bhh.Shape) width x.Shape.[2] width width hidden width)
        batch, x.Shape.[1], hidden

    let private checkKeep (schedule: SequenceSchedule) (batch: int) (time: int) =
        match schedule.Keep with
        | Some k when k.Length <> batch * time -> fail (sprintf "%d padding flags for batch %d and time %d" k.Length batch time)
        | _ -> ()

    let private kept (schedule: SequenceSchedule) (time: int) (b: int) (t: int) =
        match schedule.Keep with
        | Some k -> k.[b * time + t]
        | None -> true

    /// Row b of the state entering step t: h0's row at t = 0, else the output row of step t − 1 (outputs
    /// (batch, steps, hidden) with steps ≥ time).
    let private previousRow (h0: float[]) (outputs: float[]) (steps: int) (hidden: int) (b: int) (t: int) : ReadOnlySpan<float> =
        if t = 0 then ReadOnlySpan(h0, b * hidden, hidden) else ReadOnlySpan(outputs, (b * steps + t - 1) * hidden, hidden)

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
    /// (the pass-through of padded rows, zero for the others), or zero where truncation cuts.
    let private recurrentAdjoint (schedule: SequenceSchedule) (dg: float[]) (whh: float[]) (batch: int) (time: int) (hidden: int) (t: int) (dh: float[]) =
        let width = whh.Length / hidden
        if schedule.Cut t then Array.Clear dh
        else Gemm.gemm false false batch hidden width 1.0 dg (t * width) (time * width) whh 0 hidden 1.0 dh 0 hidden

    let private constant (shape: int[]) (data: float[]) = Dense(Tensor.Constant(RawTensor.ofOwned shape data))

    /// The inputs of a fused sequence, with the probes (batch, time, hidden) last when there are any.
    let private withProbes (inputs: Tensor[]) (probes: Tensor option) : Tensor[] =
        match probes with
        | Some p -> Array.append inputs [| p |]
        | None -> inputs

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

    /// ∂L/∂probe: the whole adjoint of every hₜ, (batch, time, hidden), when the op has probes.
    let private probeAdjoints (r: RawTensor[]) (index: int) (batch: int) (time: int) (hidden: int) : float[] =
        if r.Length > index then Array.zeroCreate (batch * time * hidden) else null

    /// b_ih + b_hh, added once: the RNN and LSTM add both biases to the same pre-activation.
    let private bothBiases (bih: RawTensor) (bhh: RawTensor) : float[] =
        let sum = Array.zeroCreate bih.Numel
        VectorMath.add (ReadOnlySpan bih.Data) (ReadOnlySpan bhh.Data) (Span sum)
        sum

    /// Every h of an Elman RNN, act(x·W_ihᵀ + b_ih + hₜ₋₁·W_hhᵀ + b_hh) with act tanh or relu, as (batch,
    /// time, hidden).
    let rnn (relu: bool) (schedule: SequenceSchedule) (p: CellParams) (x: Tensor) (h0: Tensor) (probes: Tensor option) : Tensor =
        // With probes the outputs hold act(pre) + probe; the backward needs act(pre) alone.
        let activated = ref [||]
        Op.fused (withProbes [| x; p.WeightIh; p.BiasIh; h0; p.WeightHh; p.BiasHh |] probes)
            (fun r ->
                let batch, time, hidden = sizes 1 r.[0] r.[1] r.[2] r.[3] r.[4] r.[5]
                checkKeep schedule batch time
                let probe = probeValues r 6 batch time hidden
                let h0, whhT, bias = r.[3].Data, transposed r.[4], bothBiases r.[2] r.[5]
                // the pre-activations, activated step by step in place into the outputs
                let out = project r.[0] r.[1]
                let act = if probe.IsSome then Array.zeroCreate out.Length else out
                for t in 0 .. time - 1 do
                    addRecurrent whhT h0 out time batch time hidden t out
                    for b in 0 .. batch - 1 do
                        let o = (b * time + t) * hidden
                        let row = out.AsSpan(o, hidden)
                        if not (kept schedule time b t) then (previousRow h0 out time hidden b t).CopyTo row
                        else
                            addBias bias out o
                            if relu then
                                for j in 0 .. hidden - 1 do
                                    if not (row.[j] > 0.0 || Double.IsNaN row.[j]) then row.[j] <- 0.0
                            else VectorMath.tanhInPlace row
                        if probe.IsSome then
                            row.CopyTo(act.AsSpan(o, hidden))
                            addProbe probe o row
                activated.Value <- act
                RawTensor.ofOwned [| batch; time; hidden |] out)
            (fun r f g needed ->
                let batch, time, hidden = r.[3].Shape.[0], r.[0].Shape.[1], r.[3].Shape.[1]
                let h, act, gd, whh = f.Data, activated.Value, g.Data, r.[4].Data
                let dpre = Array.zeroCreate (batch * time * hidden)
                let dprobe = probeAdjoints r 6 batch time hidden
                let dh = Array.zeroCreate (batch * hidden) // ∂L/∂hₜ through the recurrence alone
                for t in time - 1 .. -1 .. 0 do
                    for b in 0 .. batch - 1 do
                        let o, s = (b * time + t) * hidden, b * hidden
                        if kept schedule time b t then
                            // ∂L/∂h from the head and the recurrence, then h = act(pre): ∂pre = ∂h ⊙ act'(pre),
                            // with act' read off act(pre) itself
                            let d = dpre.AsSpan(o, hidden)
                            VectorMath.add (ReadOnlySpan(gd, o, hidden)) (ReadOnlySpan(dh, s, hidden)) d
                            if not (isNull dprobe) then d.CopyTo(dprobe.AsSpan(o, hidden))
                            if relu then
                                for j in 0 .. hidden - 1 do
                                    if not (act.[o + j] > 0.0) then d.[j] <- 0.0
                            else VectorMath.tanhAdjoint (ReadOnlySpan(act, o, hidden)) d
                            Array.Clear(dh, s, hidden)
                        else
                            for j in 0 .. hidden - 1 do
                                dh.[s + j] <- dh.[s + j] + gd.[o + j]
                            if not (isNull dprobe) then Array.Copy(dh, s, dprobe, o, hidden)
                    recurrentAdjoint schedule dpre whh batch time hidden t dh
                let dx, dwih = inputContributions dpre r.[0] r.[1] needed.[0]
                let sums = biasSums dpre hidden
                Array.append
                    [| dx; dwih; addingSums sums; constant r.[3].Shape dh
                       recurrentWeight dpre hidden r.[3].Data h time batch time hidden; addingSums sums |]
                    (if isNull dprobe then [||] else [| constant r.[6].Shape dprobe |]))

    /// Every h of an LSTM and the last c, packed as (batch, time + 1, hidden): slots 0…time−1 hold hₜ and
    /// slot `time` holds c_T. Gates i, f, g, o from x·W_ihᵀ + b_ih + hₜ₋₁·W_hhᵀ + b_hh; c' = f⊙c + i⊙g,
    /// h' = o⊙tanh(c').
    let lstm (schedule: SequenceSchedule) (p: CellParams) (x: Tensor) (h0: Tensor) (c0: Tensor) (probes: Tensor option) : Tensor =
        // Written by the forward kernel, read by the backward one: activated gates (batch, time, 4·hidden),
        // and c and tanh c of every step (batch, time, hidden).
        let gates, cells, cellTanh = ref [||], ref [||], ref [||]
        Op.fused (withProbes [| x; p.WeightIh; p.BiasIh; h0; c0; p.WeightHh; p.BiasHh |] probes)
            (fun r ->
                let batch, time, hidden = sizes 4 r.[0] r.[1] r.[2] r.[3] r.[5] r.[6]
                checkKeep schedule batch time
                let probe = probeValues r 7 batch time hidden
                if not (Shape.equal r.[4].Shape r.[3].Shape) then fail (sprintf "c0 has shape %s, h0 %s" (Shape.format r.[4].Shape) (Shape.format r.[3].Shape))
                let steps = time + 1
                let h0, c0, whhT, bias = r.[3].Data, r.[4].Data, transposed r.[5], bothBiases r.[2] r.[6]
                let a = project r.[0] r.[1]
                let c = Array.zeroCreate (batch * time * hidden)
                let tc = Array.zeroCreate (batch * time * hidden)
                let out = Array.zeroCreate (batch * steps * hidden)
                for t in 0 .. time - 1 do
                    addRecurrent whhT h0 out steps batch time hidden t a
                    for b in 0 .. batch - 1 do
                        let row, s, o = (b * time + t) * 4 * hidden, (b * time + t) * hidden, (b * steps + t) * hidden
                        let cPrev = if t = 0 then ReadOnlySpan(c0, b * hidden, hidden) else ReadOnlySpan(c, s - hidden, hidden)
                        if kept schedule time b t then
                            addBias bias a row
                            VectorMath.sigmoidInPlace (a.AsSpan(row, 2 * hidden)) // i and f
                            VectorMath.tanhInPlace (a.AsSpan(row + 2 * hidden, hidden)) // g
                            VectorMath.sigmoidInPlace (a.AsSpan(row + 3 * hidden, hidden)) // o
                            for j in 0 .. hidden - 1 do
                                c.[s + j] <- a.[row + hidden + j] * cPrev.[j] + a.[row + j] * a.[row + 2 * hidden + j]
                            c.AsSpan(s, hidden).CopyTo(tc.AsSpan(s, hidden))
                            VectorMath.tanhInPlace (tc.AsSpan(s, hidden))
                            for j in 0 .. hidden - 1 do
                                out.[o + j] <- a.[row + 3 * hidden + j] * tc.[s + j]
                        else
                            cPrev.CopyTo(c.AsSpan(s, hidden))
                            (previousRow h0 out steps hidden b t).CopyTo(out.AsSpan(o, hidden))
                        addProbe probe s (out.AsSpan(o, hidden))
                for b in 0 .. batch - 1 do
                    c.AsSpan((b * time + time - 1) * hidden, hidden).CopyTo(out.AsSpan((b * steps + time) * hidden, hidden))
                gates.Value <- a
                cells.Value <- c
                cellTanh.Value <- tc
                RawTensor.ofOwned [| batch; steps; hidden |] out)
            (fun r f g needed ->
                let batch, time, hidden = r.[3].Shape.[0], r.[0].Shape.[1], r.[3].Shape.[1]
                let steps = time + 1
                let a, c, tc, gd, c0 = gates.Value, cells.Value, cellTanh.Value, g.Data, r.[4].Data
                let dgates = Array.zeroCreate (batch * time * 4 * hidden)
                let dprobe = probeAdjoints r 7 batch time hidden
                let dh = Array.zeroCreate (batch * hidden)
                // ∂L/∂c_T from the packed slot, then ∂L/∂cₜ through the recurrence
                let dc = Array.init (batch * hidden) (fun i -> gd.[((i / hidden) * steps + time) * hidden + i % hidden])
                for t in time - 1 .. -1 .. 0 do
                    for b in 0 .. batch - 1 do
                        let row, s, o, sh = (b * time + t) * 4 * hidden, (b * time + t) * hidden, (b * steps + t) * hidden, b * hidden
                        if kept schedule time b t then
                            for j in 0 .. hidden - 1 do
                                let i, fg, gg, og = a.[row + j], a.[row + hidden + j], a.[row + 2 * hidden + j], a.[row + 3 * hidden + j]
                                let th = tc.[s + j]
                                let cPrev = if t = 0 then c0.[sh + j] else c.[s - hidden + j]
                                let dhNew = gd.[o + j] + dh.[sh + j]
                                if not (isNull dprobe) then dprobe.[s + j] <- dhNew
                                // h' = o⊙tanh(c'): ∂c' gets the recurrent adjoint plus ∂h'⊙o⊙(1 − tanh²c')
                                let dcNew = dc.[sh + j] + dhNew * og * (1.0 - th * th)
                                // c' = f⊙c + i⊙g
                                dc.[sh + j] <- dcNew * fg
                                dgates.[row + j] <- dcNew * gg * i * (1.0 - i)
                                dgates.[row + hidden + j] <- dcNew * cPrev * fg * (1.0 - fg)
                                dgates.[row + 2 * hidden + j] <- dcNew * i * (1.0 - gg * gg)
                                dgates.[row + 3 * hidden + j] <- dhNew * th * og * (1.0 - og)
                                dh.[sh + j] <- 0.0
                        else
                            for j in 0 .. hidden - 1 do
                                dh.[sh + j] <- dh.[sh + j] + gd.[o + j]
                            if not (isNull dprobe) then Array.Copy(dh, sh, dprobe, s, hidden)
                    recurrentAdjoint schedule dgates r.[5].Data batch time hidden t dh
                    if schedule.Cut t then Array.Clear dc
                let dx, dwih = inputContributions dgates r.[0] r.[1] needed.[0]
                let sums = biasSums dgates (4 * hidden)
                Array.append
                    [| dx; dwih; addingSums sums; constant r.[3].Shape dh; constant r.[4].Shape dc
                       recurrentWeight dgates (4 * hidden) r.[3].Data f.Data steps batch time hidden; addingSums sums |]
                    (if isNull dprobe then [||] else [| constant r.[7].Shape dprobe |]))

    /// Every h of a GRU as (batch, time, hidden), in PyTorch's form: with xp = x·W_ihᵀ + b_ih and
    /// hh = hₜ₋₁·W_hhᵀ + b_hh, r = σ(xp_r + hh_r), z = σ(xp_z + hh_z), n = tanh(xp_n + r⊙hh_n),
    /// h' = (1 − z)⊙n + z⊙hₜ₋₁.
    let gru (schedule: SequenceSchedule) (p: CellParams) (x: Tensor) (h0: Tensor) (probes: Tensor option) : Tensor =
        // Written by the forward kernel, read by the backward one: hh and the activated r, z, n of every
        // step, each (batch, time, 3·hidden).
        let recurrent, activated = ref [||], ref [||]
        Op.fused (withProbes [| x; p.WeightIh; p.BiasIh; h0; p.WeightHh; p.BiasHh |] probes)
            (fun r ->
                let batch, time, hidden = sizes 3 r.[0] r.[1] r.[2] r.[3] r.[4] r.[5]
                checkKeep schedule batch time
                let probe = probeValues r 6 batch time hidden
                let h0, whhT, bih, bhh = r.[3].Data, transposed r.[4], r.[2].Data, r.[5].Data
                let xp = project r.[0] r.[1]
                let hh = Array.zeroCreate (batch * time * 3 * hidden)
                let rzn = Array.zeroCreate (batch * time * 3 * hidden)
                let out = Array.zeroCreate (batch * time * hidden)
                for t in 0 .. time - 1 do
                    addRecurrent whhT h0 out time batch time hidden t hh
                    for b in 0 .. batch - 1 do
                        let row, o = (b * time + t) * 3 * hidden, (b * time + t) * hidden
                        let hPrev = previousRow h0 out time hidden b t
                        if kept schedule time b t then
                            addBias bih xp row
                            addBias bhh hh row
                            VectorMath.add (ReadOnlySpan(xp, row, 2 * hidden)) (ReadOnlySpan(hh, row, 2 * hidden)) (rzn.AsSpan(row, 2 * hidden))
                            VectorMath.sigmoidInPlace (rzn.AsSpan(row, 2 * hidden)) // r and z
                            for j in 0 .. hidden - 1 do
                                rzn.[row + 2 * hidden + j] <- xp.[row + 2 * hidden + j] + rzn.[row + j] * hh.[row + 2 * hidden + j]
                            VectorMath.tanhInPlace (rzn.AsSpan(row + 2 * hidden, hidden)) // n
                            for j in 0 .. hidden - 1 do
                                let z, n = rzn.[row + hidden + j], rzn.[row + 2 * hidden + j]
                                out.[o + j] <- (1.0 - z) * n + z * hPrev.[j]
                        else hPrev.CopyTo(out.AsSpan(o, hidden))
                        addProbe probe o (out.AsSpan(o, hidden))
                recurrent.Value <- hh
                activated.Value <- rzn
                RawTensor.ofOwned [| batch; time; hidden |] out)
            (fun r f g needed ->
                let batch, time, hidden = r.[3].Shape.[0], r.[0].Shape.[1], r.[3].Shape.[1]
                let hh, rzn, gd, h, h0 = recurrent.Value, activated.Value, g.Data, f.Data, r.[3].Data
                let dxp = Array.zeroCreate (batch * time * 3 * hidden)
                let dhh = Array.zeroCreate (batch * time * 3 * hidden)
                let dprobe = probeAdjoints r 6 batch time hidden
                let dh = Array.zeroCreate (batch * hidden)
                for t in time - 1 .. -1 .. 0 do
                    for b in 0 .. batch - 1 do
                        let row, o, sh = (b * time + t) * 3 * hidden, (b * time + t) * hidden, b * hidden
                        if kept schedule time b t then
                            for j in 0 .. hidden - 1 do
                                let rg, z, n = rzn.[row + j], rzn.[row + hidden + j], rzn.[row + 2 * hidden + j]
                                let hPrev = if t = 0 then h0.[sh + j] else h.[o - hidden + j]
                                let d = gd.[o + j] + dh.[sh + j]
                                if not (isNull dprobe) then dprobe.[o + j] <- d
                                // h' = (1 − z)⊙n + z⊙h
                                let dpz = d * (hPrev - n) * z * (1.0 - z)
                                let dpn = d * (1.0 - z) * (1.0 - n * n) // through n = tanh(·)
                                // n's argument xp_n + r⊙hh_n
                                let dpr = dpn * hh.[row + 2 * hidden + j] * rg * (1.0 - rg)
                                dxp.[row + j] <- dpr
                                dxp.[row + hidden + j] <- dpz
                                dxp.[row + 2 * hidden + j] <- dpn
                                dhh.[row + j] <- dpr
                                dhh.[row + hidden + j] <- dpz
                                dhh.[row + 2 * hidden + j] <- dpn * rg
                                dh.[sh + j] <- d * z // the direct path h → h'; the product adds the one through hh
                        else
                            for j in 0 .. hidden - 1 do
                                dh.[sh + j] <- dh.[sh + j] + gd.[o + j]
                            if not (isNull dprobe) then Array.Copy(dh, sh, dprobe, o, hidden)
                    recurrentAdjoint schedule dhh r.[4].Data batch time hidden t dh
                let dx, dwih = inputContributions dxp r.[0] r.[1] needed.[0]
                Array.append
                    [| dx; dwih; addingSums (biasSums dxp (3 * hidden)); constant r.[3].Shape dh
                       recurrentWeight dhh (3 * hidden) h0 h time batch time hidden; addingSums (biasSums dhh (3 * hidden)) |]
                    (if isNull dprobe then [||] else [| constant r.[6].Shape dprobe |]))
