/// `dotnet run -c Release --project tests/RnnAd.Benchmarks`: times RnnAd's workloads and prints a
/// markdown table (median of many runs after warm-up).
module RnnAd.Benchmarks.Program

open System
open System.Runtime.InteropServices
open RnnAd.Benchmarks.Harness

[<EntryPoint>]
let main _ =
    printfn "RnnAd benchmarks — %s, %s, %d cores, .NET %s, %s" (DateTime.Now.ToString "yyyy-MM-dd") RuntimeInformation.OSDescription
        Environment.ProcessorCount (Environment.Version.ToString()) (string RuntimeInformation.ProcessArchitecture)
    let results =
        [ measure "4×4 matmul + tanh + sum, forward and backward" 2000 20000 5.0 (Workloads.smallTracedOp ())
          measure "AbAcAd epoch (hidden 2, 299 steps), forward and backward" 20 500 10.0 (Workloads.abAcAdEpoch ()) ]
    printfn ""
    printfn "| workload | median | min | max | runs | allocated per run |"
    printfn "|---|---:|---:|---:|---:|---:|"
    for r in results do
        printfn "| %s | %s | %s | %s | %d | %.1f KB |" r.Name (formatSeconds r.Median) (formatSeconds r.Min) (formatSeconds r.Max) r.Runs (r.AllocatedBytes / 1024.0)
    0
