(**
---
title: 001 · "hell" → "ello" with hand-derived BPTT
category: Seed chapters
categoryindex: 2
index: 2
---
*)
(*** hide ***)
#r "../../examples/RnnAd.Cli/bin/Release/net10.0/MathNet.Numerics.dll"
#r "../../examples/RnnAd.Cli/bin/Release/net10.0/RnnAd.FSharp.dll"
#r "../../examples/RnnAd.Cli/bin/Release/net10.0/SkiaSharp.dll"
#r "../../examples/RnnAd.Cli/bin/Release/net10.0/HarfBuzzSharp.dll"
#r "../../examples/RnnAd.Cli/bin/Release/net10.0/SkiaSharp.HarfBuzz.dll"
#r "../../examples/RnnAd.Cli/bin/Release/net10.0/ScottPlot.dll"
#r "../../examples/RnnAd.Cli/bin/Release/net10.0/RnnAd.Examples.dll"
open System
open System.IO

let repository = Path.GetFullPath(Path.Combine(__SOURCE_DIRECTORY__, "..", ".."))
// The pictures are drawn by ScottPlot through SkiaSharp, whose native library is in the build's runtimes folder,
// where a script host (dotnet fsi, fsdocs) does not look unless it runs in this folder. Show it the way (Linux).
do
    let native =
        Path.Combine(repository, "examples", "RnnAd.Cli", "bin", "Release", "net10.0", "runtimes",
                     "linux-" + Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant(), "native")
    Runtime.Loader.AssemblyLoadContext.Default.add_ResolvingUnmanagedDll(fun _ name ->
        let file = Path.Combine(native, (if name.EndsWith ".so" then name else name + ".so"))
        if File.Exists file then Runtime.InteropServices.NativeLibrary.Load file else IntPtr.Zero)
/// Where this page's pictures go: the site's figures folder when docs/build.sh builds the site.
let figures =
    let site = Environment.GetEnvironmentVariable "RNNAD_DOCS_FIGURES"
    let root = if String.IsNullOrEmpty site then Path.Combine(repository, "artifacts", "docs-site", "figures") else site
    Directory.CreateDirectory(Path.Combine(root, "seed001")).FullName
/// Prints a line of the example's report, with this machine's folder shortened to the site's.
let show (line: string) = printfn "%s" (line.Replace(figures, "figures/seed001"))
/// Fails the page unless the example wrote every picture the page shows.
let expectPictures (result: RnnAd.Examples.ExampleResult) (names: string list) =
    for name in names do
        if not (List.exists (fun (f: string) -> Path.GetFileName f = name) result.Files) then
            failwithf "the example did not write %s (it wrote %A)" name (result.Files |> List.map (fun (f: string) -> Path.GetFileName f))
(**
# Seed 001 · "hell" → "ello" with hand-derived BPTT

The second lecture trains a many-to-many RNN in NumPy, by hand: the forward pass over "hell", the
backward equations of backpropagation through time (BPTT) derived and coded step by step, and gradient
descent until it predicts "ello". With 3 hidden units its first run fails, which the notes put down to
vanishing gradients; a "truncated BPTT" version then does better, and 6 hidden units succeed.

RnnAd's version (`examples/RnnAd.Examples/Seed001.fs`, `rnnad seed 001`) starts from the notebook's own
weights — NumPy's random generator is re-implemented bit for bit — and reproduces its printed losses. Then it
shows what really happened: the failing run trains against `target[0]`, a typo for `targets[0]`, not a
vanishing gradient; and the "truncated" version truncates nothing. Vanishing gradients are real, and part 3
of the report measures them where they do occur: over 60 steps, not 4. Part 4 is a full gradient check of
the seed's network: AD, the hand-derived BPTT and finite differences (see
[Gradient checking](../tutorials/gradient-checking.html)).

This page ran the example in full when the site was built.
*)
open RnnAd.Examples

let result = Seed001.run { ExampleOptions.create figures with Write = show }
(*** include-output ***)
(*** hide ***)
expectPictures result [ "seed001-loss.png"; "seed001-predictions.png"; "seed001-gradient-flow.png" ]
let metric name =
    match Map.tryFind name result.Metrics with
    | Some v -> v
    | None -> failwithf "seed 001 reports no '%s' (it reports %s)" name (String.concat ", " (Map.keys result.Metrics))
// What the text below says about the run.
if abs (metric "h3-seed-target0.loss" - 4.0 * log 4.0) > 0.05 then failwith "the seed's target[0] run no longer stalls at 4 ln 4"
if metric "gradientCheck.passed" <> 1.0 then failwith "the gradient check of the seed's network failed"
if metric "flow.adVsBptt" > 1e-10 then failwith "AD and the hand-derived BPTT no longer give the same gradient flow"
(**
## The pictures

The loss of every run of the report: the seed's typo'd run stalls at 4·ln 4, the runs with the right targets
fall.

![loss curves of the runs](../figures/seed001/seed001-loss.png)

What each trained network predicts for h, e, l, l:

![predicted probabilities per step](../figures/seed001/seed001-predictions.png)

‖∂L/∂hₜ‖ over 60 steps for three scales of the recurrent weights: the vanishing gradient where it does occur,
and its exploding side. AD's probes and the hand-derived BPTT give the same curves (the report prints how
closely); [AD on a cell](../tutorials/ad-on-a-cell.html) measures the same quantity for a GRU.

![gradient flow over time](../figures/seed001/seed001-gradient-flow.png)

Next: [seeds 002 and 004](seed-002-004.html), PyTorch's recurrent layer and a long sentence.
*)
