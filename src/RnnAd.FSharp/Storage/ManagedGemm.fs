namespace RnnAd.FSharp.Storage

open System
open System.Buffers
open System.Numerics
open System.Runtime.CompilerServices
open System.Runtime.InteropServices
open System.Runtime.Intrinsics
open System.Threading.Tasks

/// The portable GEMM. Products of at least 32³ multiply-adds, on a CPU with fused multiply-add, take a
/// blocked kernel: op(A) and op(B) packed into row slivers and column panels, then a 6×8 register tile of
/// fused multiply-adds (twelve four-lane accumulators) per sliver and panel, with row blocks spread over
/// the cores. Smaller products, or a CPU without FMA, take plain loops over rows vectorised with
/// `System.Numerics.Vector`. Both sum in a fixed order whatever the thread count, so results are the same
/// bits on every run of the same machine.
[<AutoOpen>]
module private ManagedGemmTile =
    [<Literal>]
    let MR = 6
    [<Literal>]
    let NR = 8

[<Sealed>]
type ManagedGemm() =

    /// Rows and columns of the register tile; k-depth of a packed block; rows of op(A) packed at once.
    static let KC, MC = 256, 96

    /// Whether the blocked kernel can run: Vector256 FMA in hardware (the software fallback is exact but slow).
    static let blocked = Vector256.IsHardwareAccelerated && (Runtime.Intrinsics.X86.Fma.IsSupported || Runtime.Intrinsics.Arm.AdvSimd.IsSupported)

    /// M[i0 + i, p0 + p] for i < rows, p < depth into `dst` as slivers of `width` rows, each depth × width and
    /// k-major, rows past `rows` zero; M is the matrix at `offset` with leading dimension `ld`, read
    /// transposed when `transposed`. op(A) packs with width MR; op(B)'s column panels are op(B)ᵀ's row slivers
    /// with width NR.
    [<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
    static member private Pack(width: int, transposed: bool, m: float[], offset: int, ld: int, i0: int, rows: int, p0: int, depth: int, dst: float[]) =
        for s in 0 .. (rows + width - 1) / width - 1 do
            let sliver = s * depth * width
            for r in 0 .. width - 1 do
                let i = s * width + r
                if i < rows then
                    for p in 0 .. depth - 1 do
                        dst.[sliver + p * width + r] <- if transposed then m.[offset + (p0 + p) * ld + i0 + i] else m.[offset + (i0 + i) * ld + p0 + p]
                else
                    for p in 0 .. depth - 1 do
                        dst.[sliver + p * width + r] <- 0.0

    /// The MR×NR tile Σ_p sliver[p, :]ᵀ·panel[p, :] over `depth`, into `tile` (row-major MR×NR).
    [<MethodImpl(MethodImplOptions.AggressiveOptimization)>]
    static member private Tile(ap: float[], sliver: int, bp: float[], panel: int, depth: int, tile: float[]) =
        let ra = &MemoryMarshal.GetArrayDataReference ap
        let rb = &MemoryMarshal.GetArrayDataReference bp
        let mutable c00 = Vector256<float>.Zero
        let mutable c01 = Vector256<float>.Zero
        let mutable c10 = Vector256<float>.Zero
        let mutable c11 = Vector256<float>.Zero
        let mutable c20 = Vector256<float>.Zero
        let mutable c21 = Vector256<float>.Zero
        let mutable c30 = Vector256<float>.Zero
        let mutable c31 = Vector256<float>.Zero
        let mutable c40 = Vector256<float>.Zero
        let mutable c41 = Vector256<float>.Zero
        let mutable c50 = Vector256<float>.Zero
        let mutable c51 = Vector256<float>.Zero
        let mutable pa = unativeint sliver
        let mutable pb = unativeint panel
        for _ in 1 .. depth do
            let b0 = Vector256.LoadUnsafe(&rb, pb)
            let b1 = Vector256.LoadUnsafe(&rb, pb + 4un)
            let a0 = Vector256.Create(Unsafe.Add(&ra, pa))
            c00 <- Vector256.FusedMultiplyAdd(a0, b0, c00)
            c01 <- Vector256.FusedMultiplyAdd(a0, b1, c01)
            let a1 = Vector256.Create(Unsafe.Add(&ra, pa + 1un))
            c10 <- Vector256.FusedMultiplyAdd(a1, b0, c10)
            c11 <- Vector256.FusedMultiplyAdd(a1, b1, c11)
            let a2 = Vector256.Create(Unsafe.Add(&ra, pa + 2un))
            c20 <- Vector256.FusedMultiplyAdd(a2, b0, c20)
            c21 <- Vector256.FusedMultiplyAdd(a2, b1, c21)
            let a3 = Vector256.Create(Unsafe.Add(&ra, pa + 3un))
            c30 <- Vector256.FusedMultiplyAdd(a3, b0, c30)
            c31 <- Vector256.FusedMultiplyAdd(a3, b1, c31)
            let a4 = Vector256.Create(Unsafe.Add(&ra, pa + 4un))
            c40 <- Vector256.FusedMultiplyAdd(a4, b0, c40)
            c41 <- Vector256.FusedMultiplyAdd(a4, b1, c41)
            let a5 = Vector256.Create(Unsafe.Add(&ra, pa + 5un))
            c50 <- Vector256.FusedMultiplyAdd(a5, b0, c50)
            c51 <- Vector256.FusedMultiplyAdd(a5, b1, c51)
            pa <- pa + unativeint MR
            pb <- pb + unativeint NR
        let rt = &MemoryMarshal.GetArrayDataReference tile
        c00.StoreUnsafe(&rt, 0un); c01.StoreUnsafe(&rt, 4un)
        c10.StoreUnsafe(&rt, 8un); c11.StoreUnsafe(&rt, 12un)
        c20.StoreUnsafe(&rt, 16un); c21.StoreUnsafe(&rt, 20un)
        c30.StoreUnsafe(&rt, 24un); c31.StoreUnsafe(&rt, 28un)
        c40.StoreUnsafe(&rt, 32un); c41.StoreUnsafe(&rt, 36un)
        c50.StoreUnsafe(&rt, 40un); c51.StoreUnsafe(&rt, 44un)

    /// C += alpha·op(A)·op(B) by packed blocks (C already scaled by beta).
    static member private Blocked(transA, transB, m, n, k, alpha: float, a, aOffset, lda, b, bOffset, ldb, c: float[], cOffset, ldc) =
        let panels = (n + NR - 1) / NR
        let rowBlocks = (m + MC - 1) / MC
        let bp = ArrayPool<float>.Shared.Rent(KC * panels * NR)
        try
            for p0 in 0 .. KC .. k - 1 do
                let depth = min KC (k - p0)
                ManagedGemm.Pack(NR, not transB, b, bOffset, ldb, 0, n, p0, depth, bp)
                let rowBlock (block: int) =
                    let i0 = block * MC
                    let rows = min MC (m - i0)
                    let ap = ArrayPool<float>.Shared.Rent(MC * depth)
                    let tile = ArrayPool<float>.Shared.Rent(MR * NR)
                    try
                        ManagedGemm.Pack(MR, transA, a, aOffset, lda, i0, rows, p0, depth, ap)
                        for q in 0 .. panels - 1 do
                            let cols = min NR (n - q * NR)
                            for s in 0 .. (rows + MR - 1) / MR - 1 do
                                ManagedGemm.Tile(ap, s * depth * MR, bp, q * depth * NR, depth, tile)
                                for r in 0 .. min MR (rows - s * MR) - 1 do
                                    let row = cOffset + (i0 + s * MR + r) * ldc + q * NR
                                    for j in 0 .. cols - 1 do
                                        c.[row + j] <- c.[row + j] + alpha * tile.[r * NR + j]
                    finally
                        ArrayPool<float>.Shared.Return ap
                        ArrayPool<float>.Shared.Return tile
                // Row blocks write disjoint rows of C, and each entry's sum runs in the same order on any
                // thread, so spreading them over the cores changes no bit.
                if rowBlocks > 1 && Environment.ProcessorCount > 1 && int64 m * int64 n * int64 depth >= (1L <<< 21) then
                    Parallel.For(0, rowBlocks, rowBlock) |> ignore
                else
                    for block in 0 .. rowBlocks - 1 do
                        rowBlock block
        finally
            ArrayPool<float>.Shared.Return bp

    /// y[0..n) += alpha · x[0..n)
    static member private Axpy(alpha: float, x: ReadOnlySpan<float>, y: Span<float>) =
        let mutable j = 0
        if Vector.IsHardwareAccelerated && x.Length >= Vector<float>.Count then
            let va = Vector<float>(alpha)
            let xv = MemoryMarshal.Cast<float, Vector<float>> x
            let yv = MemoryMarshal.Cast<float, Vector<float>> y
            for q in 0 .. xv.Length - 1 do
                yv.[q] <- yv.[q] + va * xv.[q]
            j <- xv.Length * Vector<float>.Count
        while j < x.Length do
            y.[j] <- y.[j] + alpha * x.[j]
            j <- j + 1

    /// Σ x[i]·y[i]
    static member private Dot(x: ReadOnlySpan<float>, y: ReadOnlySpan<float>) : float =
        let mutable j = 0
        let mutable acc = 0.0
        if Vector.IsHardwareAccelerated && x.Length >= Vector<float>.Count then
            let xv = MemoryMarshal.Cast<float, Vector<float>> x
            let yv = MemoryMarshal.Cast<float, Vector<float>> y
            let mutable vacc = Vector<float>.Zero
            for q in 0 .. xv.Length - 1 do
                vacc <- vacc + xv.[q] * yv.[q]
            acc <- Vector.Sum vacc
            j <- xv.Length * Vector<float>.Count
        while j < x.Length do
            acc <- acc + x.[j] * y.[j]
            j <- j + 1
        acc

    /// C += alpha·op(A)·op(B) by plain loops over rows (C already scaled by beta): small products, or a
    /// CPU without FMA.
    static member private Rows(transA, transB, m, n, k, alpha: float, a: float[], aOffset, lda, b: float[], bOffset, ldb, c: float[], cOffset, ldc) =
        match transA, transB with
        | false, false ->
            // C[i,:] += A[i,p] · B[p,:]
            for i in 0 .. m - 1 do
                let ci = c.AsSpan(cOffset + i * ldc, n)
                for p in 0 .. k - 1 do
                    ManagedGemm.Axpy(alpha * a.[aOffset + i * lda + p], ReadOnlySpan(b, bOffset + p * ldb, n), ci)
        | false, true ->
            // C[i,j] += A[i,:] · B[j,:]
            for i in 0 .. m - 1 do
                let ai = ReadOnlySpan(a, aOffset + i * lda, k)
                for j in 0 .. n - 1 do
                    let d = ManagedGemm.Dot(ai, ReadOnlySpan(b, bOffset + j * ldb, k))
                    c.[cOffset + i * ldc + j] <- c.[cOffset + i * ldc + j] + alpha * d
        | true, false ->
            // C[i,:] += A[p,i] · B[p,:]
            for p in 0 .. k - 1 do
                let bp = ReadOnlySpan(b, bOffset + p * ldb, n)
                for i in 0 .. m - 1 do
                    ManagedGemm.Axpy(alpha * a.[aOffset + p * lda + i], bp, c.AsSpan(cOffset + i * ldc, n))
        | true, true ->
            // Rare: C[i,j] += Σ_p A[p,i] · B[j,p]
            for i in 0 .. m - 1 do
                for j in 0 .. n - 1 do
                    let mutable acc = 0.0
                    for p in 0 .. k - 1 do
                        acc <- acc + a.[aOffset + p * lda + i] * b.[bOffset + j * ldb + p]
                    c.[cOffset + i * ldc + j] <- c.[cOffset + i * ldc + j] + alpha * acc

    interface IGemmProvider with
        member _.Name = "managed"

        member _.Gemm(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc) =
            // Scale C by beta first; beta = 0 overwrites, so stale NaNs in C do not survive (BLAS semantics).
            for i in 0 .. m - 1 do
                let row = c.AsSpan(cOffset + i * ldc, n)
                if beta = 0.0 then row.Clear()
                elif beta <> 1.0 then
                    for j in 0 .. n - 1 do
                        row.[j] <- beta * row.[j]
            if k > 0 && alpha <> 0.0 then
                if blocked && int64 m * int64 n * int64 k >= 32768L then
                    ManagedGemm.Blocked(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, c, cOffset, ldc)
                else ManagedGemm.Rows(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, c, cOffset, ldc)
