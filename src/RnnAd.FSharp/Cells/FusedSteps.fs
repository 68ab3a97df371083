namespace RnnAd.FSharp

open System
open RnnAd.FSharp.Storage

/// Whole cell steps as single ops with hand-written raw kernels, the fast path of `Sequence.run` for
/// single-level training (`Op.fusable`). The unfused steps in Rnn.fs, Lstm.fs and Gru.fs are the definition:
/// tests check that these agree with them in value and gradient. Every step takes the input projection
/// xp = x·W_ihᵀ + b_ih of the whole sequence (batch, time, gates·hidden: one large GEMM) and reads its own
/// step t in place, then the state, W_hh and b_hh. Each forward keeps the activations its backward needs,
/// as the unfused graph would.
[<RequireQualifiedAccess>]
module internal FusedSteps =

    let private check (name: string) (t: RawTensor) (shape: int[]) =
        if not (Shape.equal t.Shape shape) then
            Shape.fail "cell step" (sprintf "%s has shape %s, expected %s" name (Shape.format t.Shape) (Shape.format shape))

    /// rows × width buffer holding `bias` in every row.
    let private rowsOf (rows: int) (bias: RawTensor) : float[] =
        let width = bias.Numel
        let out = Array.zeroCreate (rows * width)
        for r in 0 .. rows - 1 do
            Array.Copy(bias.Data, 0, out, r * width, width)
        out

    /// buffer[j] += Σ_r src[r, j]: the adjoint of a bias added to every row.
    let private addColumnSums (src: float[]) (width: int) (buffer: float[]) =
        VectorMath.addColumnSums (ReadOnlySpan src) width (Span buffer)

    /// The contributions shared by every cell: ∂/∂W_hh = dgᵀ·h added through GEMM, ∂/∂b_hh = column sums of dg.
    let private weightContributions (dg: RawTensor) (h: RawTensor) : Contribution * Contribution =
        let width = dg.Shape.[1]
        let product =
            Sparse((fun () -> Tensor.Constant(MatMul.matmul true false dg h)),
                   fun buffer -> MatMul.matmulInto true false dg h 1.0 buffer; true)
        let bias =
            Sparse((fun () ->
                        let out = Array.zeroCreate width
                        addColumnSums dg.Data width out
                        Tensor.Constant(RawTensor.ofOwned [| width |] out)),
                   fun buffer -> addColumnSums dg.Data width buffer; true)
        product, bias

    /// dg·W (rows × cols) as a new constant, plus `initial` if given (same shape).
    let private times (dg: RawTensor) (w: RawTensor) (initial: float[] option) : Tensor =
        let rows, cols = dg.Shape.[0], w.Shape.[1]
        let out = defaultArg initial (Array.zeroCreate (rows * cols))
        Gemm.gemm false false rows cols w.Shape.[0] 1.0 dg.Data 0 dg.Shape.[1] w.Data 0 cols (if initial.IsSome then 1.0 else 0.0) out 0 cols
        Tensor.Constant(RawTensor.ofOwned [| rows; cols |] out)

    /// Offset of row b of time step t in the (batch, time, width) input projection.
    let private projectionRow (xp: RawTensor) (t: int) (b: int) = (b * xp.Shape.[1] + t) * xp.Shape.[2]

    /// Checks the input projection (batch, time, width) and the time step read from it.
    let private checkProjection (xp: RawTensor) (t: int) (batch: int) (width: int) =
        if xp.Rank <> 3 || xp.Shape.[0] <> batch || xp.Shape.[2] <> width || t < 0 || t >= xp.Shape.[1] then
            Shape.fail "cell step" (sprintf "step %d of an input projection of shape %s, expected (%d, time > %d, %d)" t (Shape.format xp.Shape) batch t width)

    /// The pre-activation xp[:, t] + h·W_hhᵀ + b_hh (or h·W_hhᵀ + b_hh without xp), rows × gates·H.
    let private preActivation (xp: (RawTensor * int) option) (h: RawTensor) (whh: RawTensor) (bhh: RawTensor) : float[] =
        let batch, hidden = h.Shape.[0], h.Shape.[1]
        let width = whh.Shape.[0]
        let out = rowsOf batch bhh
        match xp with
        | Some (x, t) ->
            let xd = x.Data
            for b in 0 .. batch - 1 do
                let src = projectionRow x t b
                for j in 0 .. width - 1 do
                    out.[b * width + j] <- xd.[src + j] + out.[b * width + j]
        | None -> ()
        Gemm.gemm false true batch width hidden 1.0 h.Data 0 hidden whh.Data 0 hidden 1.0 out 0 width
        out

    /// The adjoint of reading step t of the input projection: dg (batch, width) added into row t, in place.
    let private projectionContribution (xp: RawTensor) (t: int) (dg: RawTensor) : Contribution =
        let time = xp.Shape.[1]
        let asStep = Layout.reshape [| dg.Shape.[0]; 1; dg.Shape.[1] |] dg
        Sparse((fun () -> Tensor.Constant(Layout.unslice 1 t time asStep)),
               fun buffer -> Layout.addSliceInto buffer 1 t time asStep; true)

    /// h' = act(xp[:, t] + h·W_hhᵀ + b_hh), act tanh or relu.
    let rnn (relu: bool) (xp: Tensor) (t: int) (h: Tensor) (whh: Tensor) (bhh: Tensor) : Tensor =
        Op.fused [| xp; h; whh; bhh |]
            (fun r ->
                let batch, hidden = r.[1].Shape.[0], r.[1].Shape.[1]
                checkProjection r.[0] t batch hidden
                check "W_hh" r.[2] [| hidden; hidden |]
                let out = preActivation (Some(r.[0], t)) r.[1] r.[2] r.[3]
                if relu then
                    for i in 0 .. out.Length - 1 do
                        if not (out.[i] > 0.0 || Double.IsNaN out.[i]) then out.[i] <- 0.0
                else VectorMath.tanhInPlace (Span out)
                RawTensor.ofOwned [| batch; hidden |] out)
            (fun r f g needed ->
                // pre = xp + h·W_hhᵀ + b_hh, h' = act(pre): ∂pre = g ⊙ act'(pre), with act' from h' itself.
                let fd, gd = f.Data, g.Data
                let dpre = Array.init fd.Length (fun i -> if relu then (if fd.[i] > 0.0 then gd.[i] else 0.0) else gd.[i] * (1.0 - fd.[i] * fd.[i]))
                let dp = RawTensor.ofOwned f.Shape dpre
                let dw, db = weightContributions dp r.[1]
                [| projectionContribution r.[0] t dp
                   (if needed.[1] then Dense(times dp r.[2] None) else Unchecked.defaultof<_>)
                   dw
                   db |])

    /// (h', c') of an LSTM as one (batch, 2·hidden) tensor [h' | c'], from gates xp + h·W_hhᵀ + b_hh in the
    /// order i, f, g, o: c' = f⊙c + i⊙g, h' = o⊙tanh(c').
    let lstm (xp: Tensor) (t: int) (h: Tensor) (c: Tensor) (whh: Tensor) (bhh: Tensor) : Tensor =
        // Written by the forward kernel, read by the backward one: the activations the adjoints need.
        let activations = ref [||]
        let cellTanh = ref [||]
        Op.fused [| xp; h; c; whh; bhh |]
            (fun r ->
                let batch, hidden = r.[1].Shape.[0], r.[1].Shape.[1]
                checkProjection r.[0] t batch (4 * hidden)
                check "c" r.[2] [| batch; hidden |]
                check "W_hh" r.[3] [| 4 * hidden; hidden |]
                let a = preActivation (Some(r.[0], t)) r.[1] r.[3] r.[4]
                let tc = Array.zeroCreate (batch * hidden)
                let out = Array.zeroCreate (batch * 2 * hidden)
                let cd = r.[2].Data
                for b in 0 .. batch - 1 do
                    let row = b * 4 * hidden
                    VectorMath.sigmoidInPlace (a.AsSpan(row, 2 * hidden)) // i and f
                    VectorMath.tanhInPlace (a.AsSpan(row + 2 * hidden, hidden)) // g
                    VectorMath.sigmoidInPlace (a.AsSpan(row + 3 * hidden, hidden)) // o
                    for j in 0 .. hidden - 1 do
                        let c' = a.[row + hidden + j] * cd.[b * hidden + j] + a.[row + j] * a.[row + 2 * hidden + j]
                        tc.[b * hidden + j] <- c'
                        out.[b * 2 * hidden + hidden + j] <- c'
                VectorMath.tanhInPlace (Span tc)
                for b in 0 .. batch - 1 do
                    for j in 0 .. hidden - 1 do
                        out.[b * 2 * hidden + j] <- a.[b * 4 * hidden + 3 * hidden + j] * tc.[b * hidden + j]
                activations.Value <- a
                cellTanh.Value <- tc
                RawTensor.ofOwned [| batch; 2 * hidden |] out)
            (fun r _ g needed ->
                let batch, hidden = r.[1].Shape.[0], r.[1].Shape.[1]
                let a, tc, gd, cd = activations.Value, cellTanh.Value, g.Data, r.[2].Data
                let dgates = Array.zeroCreate (batch * 4 * hidden)
                let dc = Array.zeroCreate (batch * hidden)
                for b in 0 .. batch - 1 do
                    let row = b * 4 * hidden
                    for j in 0 .. hidden - 1 do
                        let i, f, gg, o = a.[row + j], a.[row + hidden + j], a.[row + 2 * hidden + j], a.[row + 3 * hidden + j]
                        let t = tc.[b * hidden + j]
                        let dh = gd.[b * 2 * hidden + j]
                        // h' = o⊙tanh(c'): ∂c' gets the direct adjoint plus dh⊙o⊙(1 − tanh²c')
                        let dcNew = gd.[b * 2 * hidden + hidden + j] + dh * o * (1.0 - t * t)
                        // c' = f⊙c + i⊙g
                        dc.[b * hidden + j] <- dcNew * f
                        dgates.[row + j] <- dcNew * gg * i * (1.0 - i)
                        dgates.[row + hidden + j] <- dcNew * cd.[b * hidden + j] * f * (1.0 - f)
                        dgates.[row + 2 * hidden + j] <- dcNew * i * (1.0 - gg * gg)
                        dgates.[row + 3 * hidden + j] <- dh * t * o * (1.0 - o)
                let dg = RawTensor.ofOwned [| batch; 4 * hidden |] dgates
                let dw, db = weightContributions dg r.[1]
                [| projectionContribution r.[0] t dg
                   (if needed.[1] then Dense(times dg r.[3] None) else Unchecked.defaultof<_>)
                   Dense(Tensor.Constant(RawTensor.ofOwned [| batch; hidden |] dc))
                   dw
                   db |])

    /// h' of a GRU from xp = W_i·x + b_i (r, z, n blocks) and hh = W_h·h + b_h: r = σ(xp_r + hh_r),
    /// z = σ(xp_z + hh_z), n = tanh(xp_n + r⊙hh_n), h' = (1 − z)⊙n + z⊙h.
    let gru (xp: Tensor) (t: int) (h: Tensor) (whh: Tensor) (bhh: Tensor) : Tensor =
        let recurrent = ref [||]
        let gates = ref [||]
        Op.fused [| xp; h; whh; bhh |]
            (fun r ->
                let batch, hidden = r.[1].Shape.[0], r.[1].Shape.[1]
                checkProjection r.[0] t batch (3 * hidden)
                check "W_hh" r.[2] [| 3 * hidden; hidden |]
                let hh = preActivation None r.[1] r.[2] r.[3]
                let x, hd = r.[0].Data, r.[1].Data
                let rzn = Array.zeroCreate (batch * 3 * hidden)
                let out = Array.zeroCreate (batch * hidden)
                for b in 0 .. batch - 1 do
                    let row = b * 3 * hidden
                    let xrow = projectionRow r.[0] t b
                    for j in 0 .. 2 * hidden - 1 do
                        rzn.[row + j] <- x.[xrow + j] + hh.[row + j]
                    VectorMath.sigmoidInPlace (rzn.AsSpan(row, 2 * hidden)) // r and z
                    for j in 0 .. hidden - 1 do
                        rzn.[row + 2 * hidden + j] <- x.[xrow + 2 * hidden + j] + rzn.[row + j] * hh.[row + 2 * hidden + j]
                    VectorMath.tanhInPlace (rzn.AsSpan(row + 2 * hidden, hidden)) // n
                    for j in 0 .. hidden - 1 do
                        let z, n = rzn.[row + hidden + j], rzn.[row + 2 * hidden + j]
                        out.[b * hidden + j] <- (1.0 - z) * n + z * hd.[b * hidden + j]
                recurrent.Value <- hh
                gates.Value <- rzn
                RawTensor.ofOwned [| batch; hidden |] out)
            (fun r _ g needed ->
                let batch, hidden = r.[1].Shape.[0], r.[1].Shape.[1]
                let hh, rzn, gd, hd = recurrent.Value, gates.Value, g.Data, r.[1].Data
                let dxp = Array.zeroCreate (batch * 3 * hidden)
                let dhh = Array.zeroCreate (batch * 3 * hidden)
                let dh = Array.zeroCreate (batch * hidden)
                for b in 0 .. batch - 1 do
                    let row = b * 3 * hidden
                    for j in 0 .. hidden - 1 do
                        let rg, z, n = rzn.[row + j], rzn.[row + hidden + j], rzn.[row + 2 * hidden + j]
                        let d = gd.[b * hidden + j]
                        // h' = (1 − z)⊙n + z⊙h
                        let dz = d * (hd.[b * hidden + j] - n)
                        let dpn = d * (1.0 - z) * (1.0 - n * n) // through n = tanh(·)
                        // n's argument xp_n + r⊙hh_n
                        let dpr = dpn * hh.[row + 2 * hidden + j] * rg * (1.0 - rg)
                        let dpz = dz * z * (1.0 - z)
                        dxp.[row + j] <- dpr
                        dxp.[row + hidden + j] <- dpz
                        dxp.[row + 2 * hidden + j] <- dpn
                        dhh.[row + j] <- dpr
                        dhh.[row + hidden + j] <- dpz
                        dhh.[row + 2 * hidden + j] <- dpn * rg
                        dh.[b * hidden + j] <- d * z
                let dh' = RawTensor.ofOwned [| batch; 3 * hidden |] dhh
                let dw, db = weightContributions dh' r.[1]
                [| projectionContribution r.[0] t (RawTensor.ofOwned [| batch; 3 * hidden |] dxp)
                   (if needed.[1] then Dense(times dh' r.[2] (Some dh)) else Unchecked.defaultof<_>)
                   dw
                   db |])
