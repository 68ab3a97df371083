namespace RnnAd.FSharp.Storage

/// Matrix products of raw tensors, all through `Gemm.gemm`.
[<RequireQualifiedAccess>]
module MatMul =

    let private describe (transA: bool) (transB: bool) (a: RawTensor) (b: RawTensor) =
        sprintf "%s%s and %s%s" (Shape.format a.Shape) (if transA then "ᵀ" else "") (Shape.format b.Shape) (if transB then "ᵀ" else "")

    /// op(a) · op(b), where op transposes the last two dimensions when its flag is set. Both operands are
    /// matrices, or both are batches of matrices (rank 3) with the same batch size.
    let matmul (transA: bool) (transB: bool) (a: RawTensor) (b: RawTensor) : RawTensor =
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
        let out = Array.zeroCreate (batch * m * n)
        for s in 0 .. batch - 1 do
            Gemm.gemm transA transB m n k 1.0 a.Data (s * ar * ac) ac b.Data (s * br * bc) bc 0.0 out (s * m * n) n
        RawTensor.ofOwned (if batched then [| batch; m; n |] else [| m; n |]) out
