namespace RnnAd.FSharp.Storage

/// A general matrix multiply, C ← α·op(A)·op(B) + β·C on row-major float64 matrices stored in arrays at
/// an offset with a leading dimension (the row stride), as BLAS's `cblas_dgemm` with `CblasRowMajor`.
/// Every matrix product in RnnAd goes through one of these, so a faster one can be plugged in.
type IGemmProvider =
    /// A short name for reports (`managed`, `openblas`, ...).
    abstract Name: string

    /// C (m×n) ← alpha · op(A) (m×k) · op(B) (k×n) + beta · C, where op transposes when its flag is set.
    abstract Gemm:
        transA: bool * transB: bool * m: int * n: int * k: int * alpha: float *
        a: float[] * aOffset: int * lda: int * b: float[] * bOffset: int * ldb: int *
        beta: float * c: float[] * cOffset: int * ldc: int -> unit
