namespace RnnAd.FSharp

open System
open RnnAd.FSharp.Storage

/// What a fused sequence needs beyond its tensors: which steps are padding and where truncation cuts.
type internal SequenceSchedule =
    { /// Keep.[b·time + t] is false where step t of row b is padding (the state carries over unchanged).
      Keep: bool[] option
      /// Whether truncated BPTT stops the gradient from step t flowing into the state before it.
      Cut: int -> bool }

/// A whole recurrence over a sequence as one op, the fast path of `Sequence.run` for single-level
/// training. The readable cells (Rnn.fs, Lstm.fs, Gru.fs) folded step by step are the definition; tests
/// check these kernels against them in value and gradient, with padding and truncation.
///
/// Why a whole sequence: one op per step costs a node, its buffers and a small weight-gradient product per
/// step. Here the forward pass writes every step into one output array, and the backward pass keeps the
/// per-step adjoints of the pre-activations in one array, which is also the adjoint of the input projection
/// and gives ∂L/∂W_hh = Σ_t dgₜᵀ·hₜ₋₁ as a few large products with k = time − 1.
///
/// Layouts follow the batch-first inputs: the input projection xp = x·W_ihᵀ + b_ih is (batch, time,
/// gates·hidden), and the outputs are (batch, time, hidden), so step t of row b sits at (b·time + t)·width.
[<RequireQualifiedAccess>]
module internal FusedSequence =

    let private fail (message: string) = Shape.fail "fused sequence" message

    /// batch, time and hidden of a (batch, time, gates·hidden) projection and a (batch, hidden) state.
    let private sizes (gates: int) (xp: RawTensor) (h0: RawTensor) (whh: RawTensor) (bhh: RawTensor) =
        if h0.Rank <> 2 then fail (sprintf "the initial state must be (batch, hidden), got %s" (Shape.format h0.Shape))
        let batch, hidden = h0.Shape.[0], h0.Shape.[1]
        if xp.Rank <> 3 || xp.Shape.[0] <> batch || xp.Shape.[1] < 1 || xp.Shape.[2] <> gates * hidden then
            fail (sprintf "input projection %s does not fit a state %s: expected (%d, time ≥ 1, %d)" (Shape.format xp.Shape) (Shape.format h0.Shape) batch (gates * hidden))
        if not (Shape.equal whh.Shape [| gates * hidden; hidden |]) || not (Shape.equal bhh.Shape [| gates * hidden |]) then
            fail (sprintf "W_hh %s and b_hh %s, expected (%d, %d) and (%d)" (Shape.format whh.Shape) (Shape.format bhh.Shape) (gates * hidden) hidden (gates * hidden))
        batch, xp.Shape.[1], hidden

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

    /// pre[:, t] = xp[:, t] + b_hh + hₜ₋₁·W_hhᵀ (without xp if none), written into `pre` (batch, time,
    /// width) at step t; the states are h0 and `outputs` (batch, steps, hidden).
    let private preActivation (xp: float[] voption) (bhh: float[]) (whh: float[]) (h0: float[]) (outputs: float[]) (steps: int)
                              (batch: int) (time: int) (hidden: int) (t: int) (pre: float[]) =
        let width = bhh.Length
        for b in 0 .. batch - 1 do
            let o = (b * time + t) * width
            match xp with
            | ValueSome x -> VectorMath.add (ReadOnlySpan(x, o, width)) (ReadOnlySpan bhh) (pre.AsSpan(o, width))
            | ValueNone -> Array.Copy(bhh, 0, pre, o, width)
        if t = 0 then Gemm.gemm false true batch width hidden 1.0 h0 0 hidden whh 0 hidden 1.0 pre (t * width) (time * width)
        else Gemm.gemm false true batch width hidden 1.0 outputs ((t - 1) * hidden) (steps * hidden) whh 0 hidden 1.0 pre (t * width) (time * width)

    /// The contributions every cell shares, from the pre-activation adjoints dg (batch, time, width) and the
    /// states: ∂L/∂W_hh = Σ_t dgₜᵀ·hₜ₋₁ (per batch row one product over steps 1…time−1, plus step 0 against
    /// h0) and ∂L/∂b_hh = Σ dg over rows and steps, each added in place into the sweep's buffer.
    let private weightContributions (dg: float[]) (width: int) (h0: float[]) (outputs: float[]) (steps: int)
                                    (batch: int) (time: int) (hidden: int) : Contribution * Contribution =
        let addWeight (buffer: float[]) =
            Gemm.gemm true false width hidden batch 1.0 dg 0 (time * width) h0 0 hidden 1.0 buffer 0 hidden
            if time > 1 then
                for b in 0 .. batch - 1 do
                    Gemm.gemm true false width hidden (time - 1) 1.0 dg ((b * time + 1) * width) width outputs (b * steps * hidden) hidden 1.0 buffer 0 hidden
        let addBias (buffer: float[]) = VectorMath.addColumnSums (ReadOnlySpan dg) width (Span buffer)
        let sparse (shape: int[]) (add: float[] -> unit) =
            Sparse((fun () ->
                        let out = RawTensor.zeros shape
                        add out.Data
                        Tensor.Constant out),
                   fun buffer -> add buffer; true)
        sparse [| width; hidden |] addWeight, sparse [| width |] addBias

    /// ∂L/∂hₜ₋₁ through the recurrence into `dh` (batch, hidden): dgₜ·W_hh added onto what `dh` holds
    /// (the pass-through of padded rows, zero for the others), or zero where truncation cuts.
    let private recurrentAdjoint (schedule: SequenceSchedule) (dg: float[]) (whh: float[]) (batch: int) (time: int) (hidden: int) (t: int) (dh: float[]) =
        let width = whh.Length / hidden
        if schedule.Cut t then Array.Clear dh
        else Gemm.gemm false false batch hidden width 1.0 dg (t * width) (time * width) whh 0 hidden 1.0 dh 0 hidden

    let private constant (shape: int[]) (data: float[]) = Dense(Tensor.Constant(RawTensor.ofOwned shape data))

    /// Every h of an Elman RNN, act(xpₜ + hₜ₋₁·W_hhᵀ + b_hh) with act tanh or relu, as (batch, time, hidden).
    let rnn (relu: bool) (schedule: SequenceSchedule) (xp: Tensor) (h0: Tensor) (whh: Tensor) (bhh: Tensor) : Tensor =
        Op.fused [| xp; h0; whh; bhh |]
            (fun r ->
                let batch, time, hidden = sizes 1 r.[0] r.[1] r.[2] r.[3]
                checkKeep schedule batch time
                let h0 = r.[1].Data
                let out = Array.zeroCreate (batch * time * hidden)
                for t in 0 .. time - 1 do
                    preActivation (ValueSome r.[0].Data) r.[3].Data r.[2].Data h0 out time batch time hidden t out
                    for b in 0 .. batch - 1 do
                        let row = out.AsSpan((b * time + t) * hidden, hidden)
                        if not (kept schedule time b t) then (previousRow h0 out time hidden b t).CopyTo row
                        elif relu then
                            for j in 0 .. hidden - 1 do
                                if not (row.[j] > 0.0 || Double.IsNaN row.[j]) then row.[j] <- 0.0
                        else VectorMath.tanhInPlace row
                RawTensor.ofOwned [| batch; time; hidden |] out)
            (fun r f g _ ->
                let batch, time, hidden = r.[1].Shape.[0], r.[0].Shape.[1], r.[1].Shape.[1]
                let h, gd, whh = f.Data, g.Data, r.[2].Data
                let dpre = Array.zeroCreate (batch * time * hidden)
                let dh = Array.zeroCreate (batch * hidden) // ∂L/∂hₜ through the recurrence alone
                for t in time - 1 .. -1 .. 0 do
                    for b in 0 .. batch - 1 do
                        let o, s = (b * time + t) * hidden, b * hidden
                        if kept schedule time b t then
                            // h = act(pre): ∂pre = ∂h ⊙ act'(pre), with act' read off h itself
                            for j in 0 .. hidden - 1 do
                                let d = gd.[o + j] + dh.[s + j]
                                dpre.[o + j] <- if relu then (if h.[o + j] > 0.0 then d else 0.0) else d * (1.0 - h.[o + j] * h.[o + j])
                                dh.[s + j] <- 0.0
                        else
                            for j in 0 .. hidden - 1 do
                                dh.[s + j] <- dh.[s + j] + gd.[o + j]
                    recurrentAdjoint schedule dpre whh batch time hidden t dh
                let dw, db = weightContributions dpre hidden r.[1].Data h time batch time hidden
                [| constant r.[0].Shape dpre; constant r.[1].Shape dh; dw; db |])

    /// Every h of an LSTM and the last c, packed as (batch, time + 1, hidden): slots 0…time−1 hold hₜ and
    /// slot `time` holds c_T. Gates i, f, g, o from xpₜ + hₜ₋₁·W_hhᵀ + b_hh; c' = f⊙c + i⊙g, h' = o⊙tanh(c').
    let lstm (schedule: SequenceSchedule) (xp: Tensor) (h0: Tensor) (c0: Tensor) (whh: Tensor) (bhh: Tensor) : Tensor =
        // Written by the forward kernel, read by the backward one: activated gates (batch, time, 4·hidden),
        // and c and tanh c of every step (batch, time, hidden).
        let gates, cells, cellTanh = ref [||], ref [||], ref [||]
        Op.fused [| xp; h0; c0; whh; bhh |]
            (fun r ->
                let batch, time, hidden = sizes 4 r.[0] r.[1] r.[3] r.[4]
                checkKeep schedule batch time
                if not (Shape.equal r.[2].Shape r.[1].Shape) then fail (sprintf "c0 has shape %s, h0 %s" (Shape.format r.[2].Shape) (Shape.format r.[1].Shape))
                let steps = time + 1
                let h0, c0 = r.[1].Data, r.[2].Data
                let a = Array.zeroCreate (batch * time * 4 * hidden)
                let c = Array.zeroCreate (batch * time * hidden)
                let tc = Array.zeroCreate (batch * time * hidden)
                let out = Array.zeroCreate (batch * steps * hidden)
                for t in 0 .. time - 1 do
                    preActivation (ValueSome r.[0].Data) r.[4].Data r.[3].Data h0 out steps batch time hidden t a
                    for b in 0 .. batch - 1 do
                        let row, s, o = (b * time + t) * 4 * hidden, (b * time + t) * hidden, (b * steps + t) * hidden
                        let cPrev = if t = 0 then ReadOnlySpan(c0, b * hidden, hidden) else ReadOnlySpan(c, s - hidden, hidden)
                        if kept schedule time b t then
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
                for b in 0 .. batch - 1 do
                    c.AsSpan((b * time + time - 1) * hidden, hidden).CopyTo(out.AsSpan((b * steps + time) * hidden, hidden))
                gates.Value <- a
                cells.Value <- c
                cellTanh.Value <- tc
                RawTensor.ofOwned [| batch; steps; hidden |] out)
            (fun r f g _ ->
                let batch, time, hidden = r.[1].Shape.[0], r.[0].Shape.[1], r.[1].Shape.[1]
                let steps = time + 1
                let a, c, tc, gd, c0 = gates.Value, cells.Value, cellTanh.Value, g.Data, r.[2].Data
                let dgates = Array.zeroCreate (batch * time * 4 * hidden)
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
                    recurrentAdjoint schedule dgates r.[3].Data batch time hidden t dh
                    if schedule.Cut t then Array.Clear dc
                let dw, db = weightContributions dgates (4 * hidden) r.[1].Data f.Data steps batch time hidden
                [| constant r.[0].Shape dgates; constant r.[1].Shape dh; constant r.[2].Shape dc; dw; db |])

    /// Every h of a GRU as (batch, time, hidden), in PyTorch's form: with hh = hₜ₋₁·W_hhᵀ + b_hh,
    /// r = σ(xp_r + hh_r), z = σ(xp_z + hh_z), n = tanh(xp_n + r⊙hh_n), h' = (1 − z)⊙n + z⊙hₜ₋₁.
    let gru (schedule: SequenceSchedule) (xp: Tensor) (h0: Tensor) (whh: Tensor) (bhh: Tensor) : Tensor =
        // Written by the forward kernel, read by the backward one: hh and the activated r, z, n of every
        // step, each (batch, time, 3·hidden).
        let recurrent, activated = ref [||], ref [||]
        Op.fused [| xp; h0; whh; bhh |]
            (fun r ->
                let batch, time, hidden = sizes 3 r.[0] r.[1] r.[2] r.[3]
                checkKeep schedule batch time
                let x, h0 = r.[0].Data, r.[1].Data
                let hh = Array.zeroCreate (batch * time * 3 * hidden)
                let rzn = Array.zeroCreate (batch * time * 3 * hidden)
                let out = Array.zeroCreate (batch * time * hidden)
                for t in 0 .. time - 1 do
                    preActivation ValueNone r.[3].Data r.[2].Data h0 out time batch time hidden t hh
                    for b in 0 .. batch - 1 do
                        let row, o = (b * time + t) * 3 * hidden, (b * time + t) * hidden
                        let hPrev = previousRow h0 out time hidden b t
                        if kept schedule time b t then
                            for j in 0 .. 2 * hidden - 1 do
                                rzn.[row + j] <- x.[row + j] + hh.[row + j]
                            VectorMath.sigmoidInPlace (rzn.AsSpan(row, 2 * hidden)) // r and z
                            for j in 0 .. hidden - 1 do
                                rzn.[row + 2 * hidden + j] <- x.[row + 2 * hidden + j] + rzn.[row + j] * hh.[row + 2 * hidden + j]
                            VectorMath.tanhInPlace (rzn.AsSpan(row + 2 * hidden, hidden)) // n
                            for j in 0 .. hidden - 1 do
                                let z, n = rzn.[row + hidden + j], rzn.[row + 2 * hidden + j]
                                out.[o + j] <- (1.0 - z) * n + z * hPrev.[j]
                        else hPrev.CopyTo(out.AsSpan(o, hidden))
                recurrent.Value <- hh
                activated.Value <- rzn
                RawTensor.ofOwned [| batch; time; hidden |] out)
            (fun r f g _ ->
                let batch, time, hidden = r.[1].Shape.[0], r.[0].Shape.[1], r.[1].Shape.[1]
                let hh, rzn, gd, h, h0 = recurrent.Value, activated.Value, g.Data, f.Data, r.[1].Data
                let dxp = Array.zeroCreate (batch * time * 3 * hidden)
                let dhh = Array.zeroCreate (batch * time * 3 * hidden)
                let dh = Array.zeroCreate (batch * hidden)
                for t in time - 1 .. -1 .. 0 do
                    for b in 0 .. batch - 1 do
                        let row, o, sh = (b * time + t) * 3 * hidden, (b * time + t) * hidden, b * hidden
                        if kept schedule time b t then
                            for j in 0 .. hidden - 1 do
                                let rg, z, n = rzn.[row + j], rzn.[row + hidden + j], rzn.[row + 2 * hidden + j]
                                let hPrev = if t = 0 then h0.[sh + j] else h.[o - hidden + j]
                                let d = gd.[o + j] + dh.[sh + j]
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
                                dh.[sh + j] <- d * z // the direct path h → h'; the GEMM adds the one through hh
                        else
                            for j in 0 .. hidden - 1 do
                                dh.[sh + j] <- dh.[sh + j] + gd.[o + j]
                    recurrentAdjoint schedule dhh r.[2].Data batch time hidden t dh
                let dw, db = weightContributions dhh (3 * hidden) h0 h time batch time hidden
                [| constant r.[0].Shape dxp; constant r.[1].Shape dh; dw; db |])
