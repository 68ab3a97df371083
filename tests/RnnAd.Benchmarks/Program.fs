/// `dotnet run -c Release --project tests/RnnAd.Benchmarks [-- --markdown FILE] [--only a,b]`: times RnnAd's
/// workloads and, when /usr/bin/python3 has torch, their PyTorch counterparts in the same run, and prints (and
/// optionally writes) a markdown table of medians, ratios and goals. `--only` takes some of traced, abacad,
/// seed003, charlstm, bptt, tape; `--no-pytorch` times RnnAd alone.
module RnnAd.Benchmarks.Program

open System
open System.IO
open System.Runtime.InteropServices
open System.Text
open RnnAd.FSharp
open RnnAd.FSharp.Storage
open RnnAd.Benchmarks.Harness

/// A line of the table: what, RnnAd's figure, PyTorch's (if measured), the goal and whether it is met.
type private Row = { Name: string; RnnAd: string; PyTorch: string; Ratio: string; Goal: string; Met: string }

let private row name rnnad pytorch ratio goal met = { Name = name; RnnAd = rnnad; PyTorch = pytorch; Ratio = ratio; Goal = goal; Met = met }
let private yesNo ok = if ok then "yes" else "**no**"

[<EntryPoint>]
let main argv =
    let option name = argv |> Array.tryFindIndex ((=) name) |> Option.map (fun i -> argv.[i + 1])
    let markdown = option "--markdown"
    let sections = [ "traced"; "abacad"; "seed003"; "charlstm"; "bptt"; "tape" ]
    let only = option "--only" |> Option.map (fun s -> s.Split(',', StringSplitOptions.RemoveEmptyEntries) |> Set.ofArray)
    match only with
    | Some chosen when not (Set.isSubset chosen (Set.ofList sections)) ->
        failwithf "--only takes some of %s; unknown: %s" (String.Join(", ", sections)) (String.Join(", ", Set.difference chosen (Set.ofList sections)))
    | _ -> ()
    let wanted section = only |> Option.forall (Set.contains section)
    let folder = Path.Combine(AppContext.BaseDirectory, "pytorch")
    let header =
        sprintf "%s · %s · %d cores · %s · .NET %s · GEMM: %s" (DateTime.Now.ToString "yyyy-MM-dd") (RuntimeInformation.OSDescription)
            Environment.ProcessorCount (RuntimeInformation.ProcessArchitecture.ToString()) (Environment.Version.ToString()) (Gemm.describe ())
    printfn "RnnAd benchmarks — %s" header
    let torchSeen = ResizeArray<PyTorch.Timing>()
    let torch =
        match (if Array.contains "--no-pytorch" argv then Error "--no-pytorch" else PyTorch.available ()) with
        | Ok () ->
            fun script ->
                match PyTorch.run folder script "" with
                | Ok ts -> torchSeen.AddRange ts; ts
                | Error e -> eprintfn "PyTorch %s failed: %s" script e; []
        | Error why ->
            printfn "PyTorch comparisons skipped: %s" why
            fun _ -> []
    let find (timings: PyTorch.Timing list) name = timings |> List.tryFind (fun t -> t.Workload = name)
    let rows = ResizeArray<Row>()
    let versus name (ours: Measurement) (theirs: PyTorch.Timing option) goal (goalMet: float -> bool) =
        match theirs with
        | Some t ->
            let ratio = ours.Median / t.Median
            rows.Add(row name (formatSeconds ours.Median) (formatSeconds t.Median) (sprintf "%.3f" ratio) goal (if goal = "—" then "—" else yesNo (goalMet ratio)))
        | None -> rows.Add(row name (formatSeconds ours.Median) "skipped" "—" goal "—")

    if wanted "traced" then
        printfn "timing the traced op…"
        let op = measure "traced op" 2000 20000 5.0 (Workloads.tracedOp ())
        versus "4×4 matmul + tanh + sum, forward + backward" op (find (torch "traced_op.py") "traced op") "—" (fun _ -> true)

    if wanted "abacad" then
        printfn "timing AbAcAd…"
        let abacadTorch = torch "abacad.py"
        let epoch = measure "AbAcAd epoch" 50 2000 5.0 (Workloads.abAcAdEpoch ())
        versus "AbAcAd epoch (hidden 2, 299 steps, Adam) vs PyTorch loop as seed 000 writes it" epoch (find abacadTorch "abacad epoch") "—" (fun _ -> true)
        versus "AbAcAd epoch vs PyTorch nn.RNN" epoch (find abacadTorch "abacad epoch nn.RNN") "—" (fun _ -> true)
        let all = measure "AbAcAd 5000 epochs" 0 3 1.0 (Workloads.abAcAd5000 ())
        match find abacadTorch "abacad epoch" with
        | Some t ->
            let theirs = 5000.0 * t.Median
            let speedup = theirs / all.Median
            rows.Add(row "AbAcAd 5000 epochs end to end (PyTorch: 5000 × its epoch median)" (formatSeconds all.Median) (formatSeconds theirs)
                         (sprintf "%.3f (%.0f× faster)" (all.Median / theirs) speedup) "≥ 30× faster, < 8 s" (yesNo (speedup >= 30.0 && all.Median < 8.0)))
        | None -> rows.Add(row "AbAcAd 5000 epochs end to end" (formatSeconds all.Median) "skipped" "—" "< 8 s" (yesNo (all.Median < 8.0)))

    if wanted "seed003" then
        printfn "timing seed-003…"
        let s3 = measure "seed-003 batch" 10 30 10.0 (Workloads.seed003 ())
        versus "seed-003 batch (Embedding 10002×100 → RNN 300, 200 steps, batch 64, 300→256→3, Adam)" s3 (find (torch "seed003.py") "seed-003 batch") "≤ 1 (as fast as PyTorch float64)" (fun r -> r <= 1.0)

    if wanted "charlstm" then
        printfn "timing the char-LSTM…"
        let lstm = measure "char-LSTM batch" 10 40 6.0 (Workloads.charLstm ())
        versus "char-LSTM batch (one-hot 65 → LSTM 2×128 → 65, batch 32, 64 steps, Adam)" lstm (find (torch "charlstm.py") "char-LSTM batch") "≤ 1 (as fast as PyTorch float64)" (fun r -> r <= 1.0)

    if wanted "bptt" then
        printfn "timing AD against the hand-derived BPTT…"
        for kind in [ CellKind.RnnTanh; CellKind.Lstm; CellKind.Gru ] do
            let ad, bptt = Workloads.gradientPair kind
            let a = measure "AD" 5 200 4.0 ad
            let b = measure "BPTT" 5 200 4.0 bptt
            let ratio = a.Median / b.Median
            rows.Add(row (sprintf "%s gradient (hidden 64, batch 8, 50 steps): AD ÷ hand-derived BPTT" kind.Name) (formatSeconds a.Median)
                         (sprintf "BPTT %s" (formatSeconds b.Median)) (sprintf "%.3f" ratio) "≤ 1.5" (yesNo (ratio <= 1.5)))

    if wanted "tape" then
        let tape = Workloads.tapeBytesPerStep ()
        rows.Add(row "reverse-mode trace kept per time step (char-LSTM, batch 32, 2×128)" (sprintf "%.1f KB" (tape / 1024.0)) "—" "—" "—" "—")

    let text = StringBuilder()
    text.AppendLine(sprintf "Measured %s." header) |> ignore
    match List.ofSeq torchSeen with
    | t :: _ -> text.AppendLine(sprintf "PyTorch %s eager, %s, %d thread(s) (its default here)." t.Version t.DType t.Threads) |> ignore
    | [] -> ()
    text.AppendLine().AppendLine("| workload | RnnAd | PyTorch | RnnAd ÷ PyTorch | goal | met |").AppendLine("|---|---:|---:|---:|---|---|") |> ignore
    for r in rows do
        text.AppendLine(sprintf "| %s | %s | %s | %s | %s | %s |" r.Name r.RnnAd r.PyTorch r.Ratio r.Goal r.Met) |> ignore
    printfn ""
    printf "%s" (text.ToString())
    markdown |> Option.iter (fun path -> File.WriteAllText(path, text.ToString()); printfn "written to %s" path)
    0
