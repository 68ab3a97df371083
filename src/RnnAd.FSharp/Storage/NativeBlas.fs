namespace RnnAd.FSharp.Storage

// Pinning arrays for the native call needs `fixed`, which F# flags as unverifiable (warning 9); the pointers
// never outlive the call.
#nowarn "9"

open System
open System.Runtime.InteropServices
open System.Runtime.Intrinsics.X86
open Microsoft.FSharp.NativeInterop

/// The C signature of `cblas_dgemm` (enum arguments as ints: 101 = row-major, 111 = no transpose, 112 = transpose).
[<UnmanagedFunctionPointer(CallingConvention.Cdecl)>]
type internal CblasDgemm =
    delegate of order: int * transA: int * transB: int * m: int * n: int * k: int * alpha: float *
                a: nativeint * lda: int * b: nativeint * ldb: int * beta: float * c: nativeint * ldc: int -> unit

/// The C signature of `openblas_get_config`, which describes the build (version, kernel, threads).
[<UnmanagedFunctionPointer(CallingConvention.Cdecl)>]
type internal OpenBlasConfig = delegate of unit -> nativeint

/// `openblas_set_num_threads`.
[<UnmanagedFunctionPointer(CallingConvention.Cdecl)>]
type internal OpenBlasSetThreads = delegate of int -> unit

/// `openblas_get_num_threads`.
[<UnmanagedFunctionPointer(CallingConvention.Cdecl)>]
type internal OpenBlasGetThreads = delegate of unit -> int

/// A GEMM provider that calls `cblas_dgemm` in a native BLAS library loaded at run time (OpenBLAS, BLIS, MKL…).
[<Sealed>]
type NativeBlasGemm internal (name: string, dgemm: CblasDgemm, threads: (OpenBlasSetThreads * int) option) =
    // OpenBLAS's threads pay off down to the per-step products of a recurrence (a few million
    // multiply-adds: seed-003's 64×300×300 ran 6% faster threaded, char-LSTM's 32×512×128 9%, medians of one
    // run alternating both settings, 2 cores, 2026-11-30); below 2¹⁹ their wake-up costs more than it saves.
    let mutable current = match threads with Some (_, n) -> n | None -> 0

    /// Products of at least this many multiply-adds use all of OpenBLAS's threads, smaller ones one
    /// (default 2¹⁹; settable for tuning on other machines, process-wide).
    static member val ThreadedThreshold = 1L <<< 19 with get, set

    interface IGemmProvider with
        member _.Name = name

        member _.Gemm(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc) =
            match threads with
            | Some (set, all) when all > 1 ->
                let wanted = if int64 m * int64 n * int64 k >= NativeBlasGemm.ThreadedThreshold then all else 1
                if wanted <> current then
                    set.Invoke wanted
                    current <- wanted
            | _ -> ()
            use pa = fixed a
            use pb = fixed b
            use pc = fixed c
            let at (p: nativeptr<float>) offset = NativePtr.toNativeInt (NativePtr.add p offset)
            dgemm.Invoke(101, (if transA then 112 else 111), (if transB then 112 else 111), m, n, k, alpha,
                         at pa aOffset, lda, at pb bOffset, ldb, beta, at pc cOffset, ldc)

/// Loading a native BLAS.
[<RequireQualifiedAccess>]
module NativeBlas =

    /// Symbols only optimised BLAS libraries export; netlib's reference BLAS (often what `libblas.so.3` is)
    /// has none and is slower than the managed kernel, so it is not taken unless asked for by path.
    let private optimisedMarkers = [ "openblas_get_config"; "bli_info_get_version_str"; "MKL_Get_Version" ]

    /// OpenBLAS kernels older than AVX2. A DYNAMIC_ARCH OpenBLAS that does not know the CPU model (0.3.21
    /// on recent Xeons, for one) falls back to one of these even where the CPU has AVX2 or AVX-512, and
    /// runs its GEMM at less than half speed.
    let private preAvx2Kernels = [ "Prescott"; "Core2"; "Penryn"; "Dunnington"; "Nehalem"; "Atom"; "Katmai"; "Coppermine"; "Northwood"; "Banias"; "Sandybridge" ]

    /// A sentence for the provider's description when OpenBLAS's configuration string names a kernel older
    /// than the CPU, with the setting that selects the right one.
    let kernelAdvice (config: string) : string option =
        let words = config.Split(' ', StringSplitOptions.RemoveEmptyEntries)
        match preAvx2Kernels |> List.tryFind (fun k -> Array.contains k words) with
        | Some kernel when Avx2.IsSupported && Fma.IsSupported ->
            let suggested = if Avx512F.IsSupported then "SkylakeX" else "Haswell"
            Some(sprintf "OpenBLAS chose its %s kernels on a CPU with %s; set OPENBLAS_CORETYPE=%s before starting the program for about twice the GEMM speed"
                         kernel (if Avx512F.IsSupported then "AVX-512" else "AVX2") suggested)
        | _ -> None

    /// Loads `library` (a file name the OS loader can find, or a path) and returns a provider calling its
    /// `cblas_dgemm`, or the reason it cannot. With `requireOptimised`, a reference BLAS is refused.
    let tryLoad (library: string) (requireOptimised: bool) : Result<IGemmProvider, string> =
        match NativeLibrary.TryLoad library with
        | false, _ -> Error(sprintf "%s was not found" library)
        | true, handle ->
            match NativeLibrary.TryGetExport(handle, "cblas_dgemm") with
            | false, _ -> Error(sprintf "%s has no cblas_dgemm" library)
            | true, fn ->
                let has symbol = fst (NativeLibrary.TryGetExport(handle, symbol))
                if requireOptimised && not (List.exists has optimisedMarkers) then
                    Error(sprintf "%s looks like the reference BLAS (slower than the managed kernel)" library)
                else
                    let version =
                        match NativeLibrary.TryGetExport(handle, "openblas_get_config") with
                        | true, config ->
                            let get = Marshal.GetDelegateForFunctionPointer<OpenBlasConfig> config
                            let text = Marshal.PtrToStringAnsi(get.Invoke())
                            " (" + text + ")" + (match kernelAdvice text with Some advice -> ". " + advice | None -> "")
                        | _ -> ""
                    let threads =
                        match NativeLibrary.TryGetExport(handle, "openblas_set_num_threads"), NativeLibrary.TryGetExport(handle, "openblas_get_num_threads") with
                        | (true, set), (true, get) ->
                            Some(Marshal.GetDelegateForFunctionPointer<OpenBlasSetThreads> set,
                                 (Marshal.GetDelegateForFunctionPointer<OpenBlasGetThreads> get).Invoke())
                        | _ -> None
                    Ok(NativeBlasGemm(library + version, Marshal.GetDelegateForFunctionPointer<CblasDgemm> fn, threads) :> IGemmProvider)
