/// Timing: warm up, then time many runs and keep the median, which one slow run (a GC, the other core
/// busy) cannot move.
module RnnAd.Benchmarks.Harness

open System
open System.Diagnostics

/// One measured workload.
type Measurement =
    { Name: string
      /// Median seconds per run.
      Median: float
      /// Fastest and slowest run, to show the spread.
      Min: float
      Max: float
      Runs: int
      /// Managed bytes allocated per run (mean).
      AllocatedBytes: float }

/// Runs `f` `warmup` times untimed, then `runs` times timed; stops early once `budget` seconds are spent
/// (at least 5 timed runs).
let measure (name: string) (warmup: int) (runs: int) (budget: float) (f: unit -> unit) : Measurement =
    for _ in 1 .. warmup do
        f ()
    GC.Collect()
    GC.WaitForPendingFinalizers()
    let times = ResizeArray<float>()
    let total = Stopwatch.StartNew()
    let allocatedBefore = GC.GetAllocatedBytesForCurrentThread()
    while times.Count < runs && (times.Count < 5 || total.Elapsed.TotalSeconds < budget) do
        let sw = Stopwatch.StartNew()
        f ()
        times.Add sw.Elapsed.TotalSeconds
    let allocated = float (GC.GetAllocatedBytesForCurrentThread() - allocatedBefore) / float times.Count
    let sorted = times.ToArray() |> Array.sort
    let median =
        if sorted.Length % 2 = 1 then sorted.[sorted.Length / 2]
        else (sorted.[sorted.Length / 2 - 1] + sorted.[sorted.Length / 2]) / 2.0
    { Name = name; Median = median; Min = sorted.[0]; Max = sorted.[sorted.Length - 1]; Runs = sorted.Length; AllocatedBytes = allocated }

/// A duration with a unit that keeps 3 significant digits readable.
let formatSeconds (s: float) =
    if s < 1e-6 then sprintf "%.0f ns" (s * 1e9)
    elif s < 1e-3 then sprintf "%.2f µs" (s * 1e6)
    elif s < 1.0 then sprintf "%.2f ms" (s * 1e3)
    else sprintf "%.2f s" s
