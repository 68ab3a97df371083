(**
---
title: 002 and 004 · Shapes, and a long sentence
category: Seed chapters
categoryindex: 2
index: 3
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
    Directory.CreateDirectory(Path.Combine(root, "seed002")).FullName
/// Prints a line of the example's report, with this machine's folder shortened to the site's.
let show (line: string) = printfn "%s" (line.Replace(figures, "figures/seed002"))
/// Fails the page unless the example wrote every picture the page shows.
let expectPictures (result: RnnAd.Examples.ExampleResult) (names: string list) =
    for name in names do
        if not (List.exists (fun (f: string) -> Path.GetFileName f = name) result.Files) then
            failwithf "the example did not write %s (it wrote %A)" name (result.Files |> List.map (fun (f: string) -> Path.GetFileName f))
(**
# Seeds 002 and 004 · Shapes, and a long sentence

Two lectures on PyTorch's `nn.RNN`. Seed 004 is a tour of its shapes — input size, hidden size, the sequence
and batch dimensions, one-hot input — on "hello"; seed 002 cuts a long sentence ("if you want to build a
ship, …") into windows of 10 characters, trains a 2-layer RNN with a linear layer on every step, and reads
the sentence back from the predictions every 10 updates. Both lectures' material is one example in RnnAd,
`examples/RnnAd.Examples/Seed002.fs` (`rnnad seed 002` or `rnnad seed 004`).

Part (a) also explains a trap in the notes: seed 004 keeps PyTorch's default time-first layout, so the array
it builds as 3 sequences of 5 letters is read by PyTorch as 5 sequences of 3. RnnAd is batch-first, as seed
002 (which sets `batch_first=True`).

This page ran the example in full when the site was built.
*)
open RnnAd.Examples

let result = Seed002.run { ExampleOptions.create figures with Write = show }
(*** include-output ***)
(*** hide ***)
expectPictures result [ "seed002-training.png" ]
(**
## The picture

Loss and accuracy over the 100 updates, with the sentence as read back at each checkpoint:

![training on the long sentence](../figures/seed002/seed002-training.png)

Next: [seed 003](seed-003.html), sentiment classification with five recurrent networks.
*)
