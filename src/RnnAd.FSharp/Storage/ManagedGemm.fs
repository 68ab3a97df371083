namespace RnnAd.FSharp.Storage

open System
open System.Numerics
open System.Runtime.InteropServices

/// The portable GEMM: plain loops over rows, vectorised with `System.Numerics.Vector`. Its summation order
/// is fixed, so results are the same bits on every run of the same machine.
[<Sealed>]
type ManagedGemm() =

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
