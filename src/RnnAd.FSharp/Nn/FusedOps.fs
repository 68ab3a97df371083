namespace RnnAd.FSharp

open RnnAd
open System
open RnnAd.FSharp.Storage

/// Single-level fast paths of two composites that dominate a model's head: the linear layer (one GEMM
/// onto the bias, instead of a product and an add) and cross-entropy (log-softmax, pick and reduction in
/// one pass, adjoint softmax − one-hot). `Nn` uses them when no nested differentiation runs through them (every
/// tensor constant or traced at one level) and the composites otherwise; tests check both give the same values and gradients.
[<RequireQualifiedAccess>]
module internal FusedOps =

    /// x·Wᵀ + b for x (…, in), W (out, in), b (out).
    let linear (weight: Tensor) (bias: Tensor) (x: Tensor) : Tensor =
        Op.fused [| x; weight; bias |]
            (fun r ->
                let x, w, b = r.[0], r.[1], r.[2]
                let inputs, outputs = w.Shape.[1], w.Shape.[0]
                if x.Rank < 1 || x.Shape.[x.Rank - 1] <> inputs || b.Rank <> 1 || b.Shape.[0] <> outputs then
                    Shape.fail "linear" (sprintf "input %s, weight %s and bias %s do not fit x·Wᵀ + b" (Shape.format x.Shape) (Shape.format w.Shape) (Shape.format b.Shape))
                let rows = x.Numel / max 1 inputs
                let out = Array.zeroCreate (rows * outputs)
                for i in 0 .. rows - 1 do
                    Array.Copy(b.Data, 0, out, i * outputs, outputs)
                Gemm.gemm false true rows outputs inputs 1.0 x.Data 0 inputs w.Data 0 inputs 1.0 out 0 outputs
                RawTensor.ofOwned (Array.append x.Shape.[.. x.Rank - 2] [| outputs |]) out)
            (fun r _ g needed ->
                let x, w = r.[0], r.[1]
                let inputs, outputs = w.Shape.[1], w.Shape.[0]
                let rows = x.Numel / max 1 inputs
                let g2 = Layout.reshape [| rows; outputs |] g
                let x2 = Layout.reshape [| rows; inputs |] x
                [| (if needed.[0] then Dense(Tensor.Constant(Layout.reshape x.Shape (MatMul.matmul false false g2 w))) else Unchecked.defaultof<_>)
                   Sparse((fun () -> Tensor.Constant(MatMul.matmul true false g2 x2)),
                          fun buffer -> MatMul.matmulInto true false g2 x2 1.0 buffer; true)
                   Sparse((fun () -> Tensor.Constant(Reductions.sumDim 0 false g2)),
                          fun buffer ->
                              VectorMath.addColumnSums (ReadOnlySpan(g2.Data, 0, rows * outputs)) outputs (Span buffer)
                              true) |])

    /// Σ_p w_p·(logΣ_c exp(z_pc) − z_p,target_p), divided by `scale`, for logits z (…, C), each term formed
    /// as (m_p − z_p,target_p) + log Σ_c exp(z_pc − m_p) with m_p the row's maximum.
    let crossEntropy (scale: float) (weights: float[] option) (targets: int[]) (logits: Tensor) : Tensor =
        // Softmax of every row, kept from the forward pass for the adjoint.
        let softmax = ref [||]
        Op.fused [| logits |]
            (fun r ->
                let z = r.[0]
                let classes = z.Shape.[z.Rank - 1]
                let p = Array.zeroCreate z.Numel
                let mutable total = 0.0
                for row in 0 .. targets.Length - 1 do
                    let o = row * classes
                    let mutable m = Double.NegativeInfinity
                    for c in 0 .. classes - 1 do
                        let v = z.Data.[o + c]
                        if v > m || Double.IsNaN v then m <- v
                    let mutable sum = 0.0
                    for c in 0 .. classes - 1 do
                        let e = Math.Exp(z.Data.[o + c] - m)
                        p.[o + c] <- e
                        sum <- sum + e
                    for c in 0 .. classes - 1 do
                        p.[o + c] <- p.[o + c] / sum
                    let w = match weights with Some ws -> ws.[row] | None -> 1.0
                    // (m − z_target) first: exact near the maximum, where m + log Σ would round at the
                    // logits' magnitude (1e-10 near 1e6) before the subtraction cancels it
                    if w <> 0.0 then total <- total + w * ((m - z.Data.[o + targets.[row]]) + Math.Log sum)
                softmax.Value <- p
                RawTensor.scalar (total / scale))
            (fun r _ g _ ->
                let z = r.[0]
                let classes = z.Shape.[z.Rank - 1]
                let coefficient = g.AsSpan().[0] / scale
                let d = Array.copy softmax.Value
                for row in 0 .. targets.Length - 1 do
                    let o = row * classes
                    let w = (match weights with Some ws -> ws.[row] | None -> 1.0) * coefficient
                    d.[o + targets.[row]] <- d.[o + targets.[row]] - 1.0
                    for c in 0 .. classes - 1 do
                        // A padded position (weight 0) gets exactly 0, whatever its logits hold.
                        d.[o + c] <- if w = 0.0 then 0.0 else d.[o + c] * w
                [| Dense(Tensor.Constant(RawTensor.ofOwned z.Shape d)) |])
