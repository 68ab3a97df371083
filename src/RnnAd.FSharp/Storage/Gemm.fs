namespace RnnAd.FSharp.Storage

open System
open System.Threading

/// The one GEMM entry point of RnnAd and the provider behind it. At start-up the provider is a native BLAS
/// when an optimised one can be loaded (`apt-get install libopenblas0-pthread` on Debian), else the managed
/// kernel. The environment variable `RNNAD_GEMM` overrides the choice: `managed`, or a library name or path.
[<RequireQualifiedAccess>]
module Gemm =

    /// The portable managed provider, always available.
    let managed: IGemmProvider = ManagedGemm()

    /// Products smaller than this many multiply-adds (m·n·k) stay on the managed kernel even when a native
    /// BLAS is loaded: for them the call and threading overhead of the library costs more than the work.
    let nativeThreshold = 32 * 32 * 32

    /// Native library names tried, in order, when nothing is forced.
    let private candidates =
        if OperatingSystem.IsWindows() then [ "libopenblas.dll"; "openblas.dll" ]
        elif OperatingSystem.IsMacOS() then [ "libopenblas.dylib"; "libopenblas.0.dylib" ]
        else [ "libopenblas.so.0"; "libopenblas.so"; "libblas.so.3" ]

    /// The provider chosen at start-up and a sentence saying why.
    let private select () : IGemmProvider * string =
        match Environment.GetEnvironmentVariable "RNNAD_GEMM" with
        | v when String.Equals(v, "managed", StringComparison.OrdinalIgnoreCase) -> managed, "RNNAD_GEMM=managed forces the managed kernel"
        | null | "" ->
            let rec firstLoaded reasons = function
                | [] -> managed, sprintf "no optimised native BLAS found (%s); using the managed kernel" (String.Join("; ", List.rev reasons))
                | lib :: rest ->
                    match NativeBlas.tryLoad lib true with
                    | Ok p -> p, sprintf "native BLAS %s" p.Name
                    | Error why -> firstLoaded (why :: reasons) rest
            firstLoaded [] candidates
        | library ->
            match NativeBlas.tryLoad library false with
            | Ok p -> p, sprintf "native BLAS %s (RNNAD_GEMM)" p.Name
            | Error why -> managed, sprintf "RNNAD_GEMM=%s cannot be used (%s); using the managed kernel" library why

    let mutable private current = lazy (select ())

    /// The provider in use.
    let provider () : IGemmProvider = fst (Volatile.Read(&current).Value)

    /// Which provider is in use and why, for reports (`rnnad` prints it).
    let describe () : string = snd (Volatile.Read(&current).Value)

    /// Replaces the provider for the whole process (thread-safe; products already running finish on the old one).
    let setProvider (p: IGemmProvider) : unit =
        if isNull (box p) then nullArg "provider"
        Volatile.Write(&current, Lazy<_>.CreateFromValue((p, sprintf "%s (set by the program)" p.Name)))

    /// C ← alpha · op(A) · op(B) + beta · C through the current provider, after checking that every
    /// operand lies inside its array.
    let gemm
        (transA: bool) (transB: bool) (m: int) (n: int) (k: int) (alpha: float)
        (a: float[]) (aOffset: int) (lda: int) (b: float[]) (bOffset: int) (ldb: int)
        (beta: float) (c: float[]) (cOffset: int) (ldc: int)
        : unit =
        let fits (name: string) (arr: float[]) off rows cols ld =
            if rows > 0 && cols > 0 && (ld < cols || off < 0 || off + (rows - 1) * ld + cols > arr.Length) then
                Shape.fail "gemm" (sprintf "%s (%d×%d, leading dimension %d, offset %d) does not fit its array of %d values" name rows cols ld off arr.Length)
        if m < 0 || n < 0 || k < 0 then Shape.fail "gemm" (sprintf "sizes must be non-negative, got m=%d n=%d k=%d" m n k)
        (if transA then fits "A" a aOffset k m lda else fits "A" a aOffset m k lda)
        (if transB then fits "B" b bOffset n k ldb else fits "B" b bOffset k n ldb)
        fits "C" c cOffset m n ldc
        if m > 0 && n > 0 then
            let p = provider ()
            let p = if k = 0 || int64 m * int64 n * int64 k < int64 nativeThreshold then managed else p
            p.Gemm(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc)
