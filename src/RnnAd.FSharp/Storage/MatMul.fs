namespace RnnAd.FSharp.Storage

/// Matrix products of raw tensors, all through `Gemm.gemm`.
[<RequireQualifiedAccess>]
module MatMul =

    let private describe (transA: bool) (transB: bool) (a: RawTensor) (b: RawTensor) =
        sprintf "%s%s and %s%s" (Shape.format a.Shape) (if transA then "ᵀ" else "") (Shape.format b.Shape) (if transB then "ᵀ" else "")

    /// The output shape of op(a) · op(b) and the GEMM sizes (batch, m, n, k), checking the operands: both
    /// matrices, or both batches of matrices (rank 3) with the same batch size.
    let private plan (transA: bool) (transB: bool) (a: RawTensor) (b: RawTensor) =
        if a.Rank <> b.Rank || (a.Rank <> 2 && a.Rank <> 3) then
            Shape.fail "matmul" (sprintf "operands %s must both be matrices or both batches of matrices" (describe transA transB a b))
        let batched = a.Rank = 3
        let batch = if batched then a.Shape.[0] else 1
        if batched && b.Shape.[0] <> batch then
            Shape.fail "matmul" (sprintf "batch sizes differ in %s" (describe transA transB a b))
        let r = a.Rank
        let ar, ac = a.Shape.[r - 2], a.Shape.[r - 1]
        let br, bc = b.Shape.[r - 2], b.Shape.[r - 1]
        let m, k = if transA then ac, ar else ar, ac
        let k2, n = if transB then bc, br else br, bc
        if k <> k2 then
            Shape.fail "matmul" (sprintf "inner dimensions %d and %d differ in %s" k k2 (describe transA transB a b))
        (if batched then [| batch; m; n |] else [| m; n |]), batch, m, n, k

    /// dst ← op(a) · op(b) + beta · dst, for a destination buffer of the product's shape.
    let matmulInto (transA: bool) (transB: bool) (a: RawTensor) (b: RawTensor) (beta: float) (dst: float[]) : unit =
        let shape, batch, m, n, k = plan transA transB a b
        if dst.Length <> Shape.numel shape then
            Shape.fail "matmul" (sprintf "the destination holds %d values, the product %s has %d" dst.Length (Shape.format shape) (Shape.numel shape))
        let r = a.Rank
        let ar, ac = a.Shape.[r - 2], a.Shape.[r - 1]
        let br, bc = b.Shape.[r - 2], b.Shape.[r - 1]
        for s in 0 .. batch - 1 do
            Gemm.gemm transA transB m n k 1.0 a.Data (s * ar * ac) ac b.Data (s * br * bc) bc beta dst (s * m * n) n

    /// op(a) · op(b), where op transposes the last two dimensions when its flag is set. Both operands are
    /// matrices, or both are batches of matrices (rank 3) with the same batch size.
    let matmul (transA: bool) (transB: bool) (a: RawTensor) (b: RawTensor) : RawTensor =
        let shape, _, _, _, _ = plan transA transB a b
        let out = Array.zeroCreate (Shape.numel shape)
        matmulInto transA transB a b 0.0 out
        RawTensor.ofOwned shape out
