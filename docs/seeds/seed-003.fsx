(**
---
title: 003 · Sentiment classification
category: Seed chapters
categoryindex: 2
index: 4
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
    Directory.CreateDirectory(Path.Combine(root, "seed003")).FullName
/// Prints a line of the example's report, with this machine's folder shortened to the site's.
let show (line: string) = printfn "%s" (line.Replace(figures, "figures/seed003"))
/// Fails the page unless the example wrote every picture the page shows.
let expectPictures (result: RnnAd.Examples.ExampleResult) (names: string list) =
    for name in names do
        if not (List.exists (fun (f: string) -> Path.GetFileName f = name) result.Files) then
            failwithf "the example did not write %s (it wrote %A)" name (result.Files |> List.map (fun (f: string) -> Path.GetFileName f))
(**
# Seed 003 · Sentiment classification

The fourth lecture: the theory of BPTT and truncated BPTT, then sentiment classification of IMDB movie
reviews — an encoder built from `RNNCell` (embedding 100, hidden 300) with an MLP head, an `nn.RNN`
classifier, and LSTM and GRU cells written by hand, then a bidirectional LSTM.

RnnAd's version (`examples/RnnAd.Examples/Seed003.fs`, `rnnad seed 003`, or `--data PATH` for a real IMDB
folder) generates its own reviews — neutral sentences about plot and cast, opinions, negations ("the acting
wasn't bad") — so that word order, not the words alone, decides the verdict. It trains the five models on the
same batches, prints confusion matrices, and measures *why* they differ: accuracy on reviews with and without a
negation, with neutral words appended, and the gradient that reaches the first word.

**This page runs the quick mode** (a few dozen reviews, tiny networks, 2 epochs: about 3 seconds) so that the
site builds fast; its numbers are not the lesson's, and the report says so. The full run takes about two
minutes here; its pictures, kept in the repository, are shown below the report.
*)
open RnnAd.Examples

let result = Seed003.run { ExampleOptions.create figures with Quick = true; Write = show }
(*** include-output ***)
(*** hide ***)
expectPictures result [ "seed003-accuracy.png"; "seed003-confusion.png"; "seed003-memory.png" ]
let full = Directory.CreateDirectory(Path.Combine(figures, "full")).FullName
for name in [ "seed003-accuracy.png"; "seed003-confusion.png"; "seed003-memory.png" ] do
    File.Copy(Path.Combine(repository, "examples", "images", name), Path.Combine(full, name), true)
(**
## The pictures of the full run

These come from the full example (`rnnad seed 003`, about two minutes), as kept in `examples/images/`; the
README gives that run's numbers (test accuracy: RNN cell 0.781, RNN layer 0.829, LSTM 0.935, GRU 0.936,
BiLSTM 0.925).

Accuracy on the validation reviews after every epoch, per model:

![accuracy per epoch of the five models](../figures/seed003/full/seed003-accuracy.png)

Confusion matrices on the test reviews:

![confusion matrices](../figures/seed003/full/seed003-confusion.png)

What the models remember: accuracy with and without negations, and with neutral words appended.

![memory measurements](../figures/seed003/full/seed003-memory.png)

The quick run above drew the same three pictures from its few epochs:
[accuracy](../figures/seed003/seed003-accuracy.png), [confusion](../figures/seed003/seed003-confusion.png),
[memory](../figures/seed003/seed003-memory.png).

Back to [the seed chapters' start](seed-000.html), or on to the [tutorials](../tutorials/cell-from-equations.html).
*)
