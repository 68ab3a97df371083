namespace RnnAd.FSharp.Storage

/// Matrix products of raw tensors, all through `Gemm.gemm`.
[<RequireQualifiedAccess>]
module MatMul =

    let private describe (transA: bool) (transB: bool) (a: int[]) (b: int[]) =
        sprintf "%s%s and %s%s" (Shape.format a) (if transA then "ᵀ" else "") (Shape.format b) (if transB then "ᵀ" else "")

    /// The GEMM sizes of op(a) · op(b) for operands of these shapes, checked: both have at least two
    /// dimensions, the last two are the matrices, and the leading (batch) dimensions broadcast together as
    /// NumPy's. Returns the batch shape, m, n and k.
    let private plan (transA: bool) (transB: bool) (a: int[]) (b: int[]) =
        if a.Length < 2 || b.Length < 2 then
            Shape.fail "matmul" (sprintf "operands %s must be matrices or batches of matrices" (describe transA transB a b))
        let ra, rb = a.Length, b.Length
        let m, k = if transA then a.[ra - 1], a.[ra - 2] else a.[ra - 2], a.[ra - 1]
        let k2, n = if transB then b.[rb - 1], b.[rb - 2] else b.[rb - 2], b.[rb - 1]
        if k <> k2 then
            Shape.fail "matmul" (sprintf "inner dimensions %d and %d differ in %s" k k2 (describe transA transB a b))
        let batchA, batchB = a.[.. ra - 3], b.[.. rb - 3]
        let batch =
            try Shape.broadcast "matmul" batchA batchB
            with :? System.ArgumentException ->
                Shape.fail "matmul" (sprintf "batch dimensions %s and %s do not broadcast in %s" (Shape.format batchA) (Shape.format batchB) (describe transA transB a b))
        batch, m, n, k

    /// The shape of op(a) · op(b) for operands of these shapes: the broadcast batch dimensions, then m × n.
    let shape (transA: bool) (transB: bool) (a: int[]) (b: int[]) : int[] =
        let batch, m, n, _ = plan transA transB a b
        Array.append batch [| m; n |]

    /// dst ← op(a) · op(b) + beta · dst, for a destination buffer of the product's shape. Each product of the
    /// batch is one GEMM call; an operand with fewer (or size-1) batch dimensions is read again, not copied.
    let matmulInto (transA: bool) (transB: bool) (a: RawTensor) (b: RawTensor) (beta: float) (dst: float[]) : unit =
        let batch, m, n, k = plan transA transB a.Shape b.Shape
        let count = Shape.numel batch
        if dst.Length <> count * m * n then
            Shape.fail "matmul" (sprintf "the destination holds %d values, the product %s has %d" dst.Length (Shape.format (Array.append batch [| m; n |])) (count * m * n))
        let ra, rb = a.Rank, b.Rank
        let ar, ac = a.Shape.[ra - 2], a.Shape.[ra - 1]
        let br, bc = b.Shape.[rb - 2], b.Shape.[rb - 1]
        // Which matrix of each operand product s reads: broadcast strides count matrices, and are 0 along a
        // batch dimension the operand repeats.
        let ia = Shape.offsets batch (Shape.broadcastStrides a.Shape.[.. ra - 3] batch)
        let ib = Shape.offsets batch (Shape.broadcastStrides b.Shape.[.. rb - 3] batch)
        for s in 0 .. count - 1 do
            Gemm.gemm transA transB m n k 1.0 a.Data (ia.[s] * ar * ac) ac b.Data (ib.[s] * br * bc) bc beta dst (s * m * n) n

    /// op(a) · op(b), where op transposes the last two dimensions when its flag is set. Both operands are
    /// matrices or batches of matrices; their batch dimensions broadcast together (torch.matmul's rule).
    let matmul (transA: bool) (transB: bool) (a: RawTensor) (b: RawTensor) : RawTensor =
        let shape = shape transA transB a.Shape b.Shape
        let out = Array.zeroCreate (Shape.numel shape)
        matmulInto transA transB a b 0.0 out
        RawTensor.ofOwned shape out
