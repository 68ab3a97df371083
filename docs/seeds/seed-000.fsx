(**
---
title: 000 · Next-character prediction, then the RNN idea
category: Seed chapters
categoryindex: 2
index: 1
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
    Directory.CreateDirectory(Path.Combine(root, "seed000")).FullName
/// Prints a line of the example's report, with this machine's folder shortened to the site's.
let show (line: string) = printfn "%s" (line.Replace(figures, "figures/seed000"))
/// Fails the page unless the example wrote every picture the page shows.
let expectPictures (result: RnnAd.Examples.ExampleResult) (names: string list) =
    for name in names do
        if not (List.exists (fun (f: string) -> Path.GetFileName f = name) result.Files) then
            failwithf "the example did not write %s (it wrote %A)" name (result.Files |> List.map (fun (f: string) -> Path.GetFileName f))
(**
# Seed 000 · Next-character prediction, then the RNN idea

The first lecture of the teaching notes RnnAd grew from. A network sees one character and predicts the next,
on texts that repeat `abc`, `abcd`, `abcde` and `AbAcAd`: an embedding, tanh, and a linear layer
(Embedding → tanh → Linear), with 1, 2 or 3 hidden units. With enough units it learns the first three.
On `AbAcAd` it must fail: after an `A` the next letter is `b`, `c` or `d` depending on the letter *before* the
`A`, which a network that sees one character never knows. The lecture then introduces the recurrent cell,
hₜ = tanh(xₜ·W_ihᵀ + b_ih + hₜ₋₁·W_hhᵀ + b_hh), folds it over time by hand, and the letter before the `A`
travels in the state.

RnnAd re-lives the lecture in `examples/RnnAd.Examples/Seed000.fs` (from the command line:
`rnnad seed 000`). This page ran it in full when the site was built; the report below and the pictures are
that run's. `show` prints each line of the report.
*)
open RnnAd.Examples

let result = Seed000.run { ExampleOptions.create figures with Write = show }
(*** include-output ***)
(*** hide ***)
expectPictures result [ "seed000-abc-h1-lines.png"; "seed000-abcd-h2-heatmap.png"; "seed000-AbAcAd-h2-heatmap.png"
                        "seed000-AbAcAd-rnn-lines.png"; "seed000-AbAcAd-rnn-heatmap.png"; "seed000-loss.png" ]
/// The report's numbers under their names; fails naming a number the example no longer reports.
let metric name =
    match Map.tryFind name result.Metrics with
    | Some v -> v
    | None -> failwithf "seed 000 reports no '%s' (it reports %s)" name (String.concat ", " (Map.keys result.Metrics))
// What the text below says about the run.
if not (metric "abc-h1.accuracy" >= 0.99 && metric "abc-h1.confidence" < 0.95) then failwith "abc with 1 unit is no longer a forced success"
if not (metric "abcd-h2.accuracy" >= 0.99 && metric "abcd-h2.confidence" >= 0.95) then failwith "abcd with 2 units is no longer a clean success"
if metric "AbAcAd-h2.accuracy" > metric "AbAcAd-h2.ceiling" + 1e-9 then failwith "the memoryless network beat its ceiling"
if metric "AbAcAd-rnn.accuracy" < 0.99 then failwith "the RNN no longer gets every letter of AbAcAd right"
(**
## What to look at

**One hidden unit on `abc`** — h takes one level per letter, and the three logits, straight lines in h, must
each win on one level. The right letter wins, but narrowly: the "forced success" of the report.

![h, logits and softmax of the 1-unit network on abc](../figures/seed000/seed000-abc-h1-lines.png)

**Two units on `abcd`** — each letter gets a corner of the square (±1, ±1), and the softmax is confident.
Each row of the heat map is a step: [h | logits | ŷ].

![heat map of h, logits and softmax of the 2-unit network on abcd](../figures/seed000/seed000-abcd-h2-heatmap.png)

**`AbAcAd` without memory** — every `A` row looks the same, so the prediction after it is a split guess; the
accuracy stops at the ceiling the report computes from the data (0.666), whatever the training.

![heat map of the 2-unit network on AbAcAd](../figures/seed000/seed000-AbAcAd-h2-heatmap.png)

**`AbAcAd` with the RNN cell** — the state after an `A` differs according to the letter before it, and every
next letter is right.

![heat map of h, logits and softmax of the RNN on AbAcAd](../figures/seed000/seed000-AbAcAd-rnn-heatmap.png)
![h, logits and softmax of the RNN on AbAcAd over the first steps](../figures/seed000/seed000-AbAcAd-rnn-lines.png)

The loss curves of all six networks:

![loss curves](../figures/seed000/seed000-loss.png)

The run wrote 13 pictures in all, two per network; the others are in the same folder
(for example [abcde with 3 units](../figures/seed000/seed000-abcde-h3-heatmap.png)).

Next: [seed 001](seed-001.html), the same cell trained by hand-derived backpropagation through time.
*)
