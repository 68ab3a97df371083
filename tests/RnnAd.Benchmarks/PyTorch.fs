/// Runs the PyTorch counterparts in pytorch/ with Debian's interpreter, when it has torch.
module RnnAd.Benchmarks.PyTorch

open System
open System.Diagnostics
open System.IO
open System.Text.Json

/// One PyTorch timing.
type Timing = { Workload: string; Median: float; Threads: int; Version: string; DType: string }

let private interpreter = "/usr/bin/python3"

/// Runs a script (with optional extra arguments) and returns its output, or an error line.
let private runScript (folder: string) (script: string) (args: string) (timeoutSeconds: int) : Result<string, string> =
    if not (File.Exists interpreter) then Error(sprintf "%s not found" interpreter)
    else
        let psi = ProcessStartInfo(interpreter, sprintf "%s %s" (Path.Combine(folder, script)) args)
        psi.RedirectStandardOutput <- true
        psi.RedirectStandardError <- true
        psi.WorkingDirectory <- folder
        use p = Process.Start psi
        let out = p.StandardOutput.ReadToEndAsync()
        let err = p.StandardError.ReadToEndAsync()
        if not (p.WaitForExit(timeoutSeconds * 1000)) then
            p.Kill true
            Error(sprintf "%s timed out after %d s" script timeoutSeconds)
        elif p.ExitCode <> 0 then Error(sprintf "%s exited with %d: %s" script p.ExitCode (err.Result.Trim().Split('\n') |> Array.last))
        else Ok out.Result

/// Whether torch can be imported, or why not.
let available () : Result<unit, string> =
    if not (File.Exists interpreter) then Error(sprintf "%s not found" interpreter)
    else
        let psi = ProcessStartInfo(interpreter, "-c \"import torch\"")
        psi.RedirectStandardError <- true
        use p = Process.Start psi
        p.WaitForExit()
        if p.ExitCode = 0 then Ok() else Error "torch is not installed for /usr/bin/python3 (apt-get install python3-torch libopenblas0-pthread)"

/// The timings printed by one script (one JSON object a line).
let run (folder: string) (script: string) (args: string) : Result<Timing list, string> =
    runScript folder script args 600
    |> Result.map (fun text ->
        [ for line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries) do
            use doc = JsonDocument.Parse line
            let r = doc.RootElement
            { Workload = r.GetProperty("workload").GetString()
              Median = r.GetProperty("median_s").GetDouble()
              Threads = r.GetProperty("threads").GetInt32()
              Version = r.GetProperty("torch").GetString()
              DType = r.GetProperty("dtype").GetString() } ])
