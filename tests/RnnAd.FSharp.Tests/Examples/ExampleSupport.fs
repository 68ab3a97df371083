/// What the seed examples' tests share: running an example in quick mode in a temporary folder, reading its
/// metrics, and checking the PNGs it writes.
module RnnAd.FSharp.Tests.Examples.ExampleSupport

open System
open System.IO
open Expecto
open RnnAd.Examples

/// The eight bytes every PNG file starts with (PNG specification, section 5.2).
let pngSignature = [| 0x89uy; 0x50uy; 0x4Euy; 0x47uy; 0x0Duy; 0x0Auy; 0x1Auy; 0x0Auy |]

/// Width and height from the IHDR chunk, which follows the signature: 4 bytes length, 4 bytes "IHDR", then
/// width and height as big-endian 32-bit integers.
let pngSize (bytes: byte[]) =
    let be (i: int) = (int bytes.[i] <<< 24) ||| (int bytes.[i + 1] <<< 16) ||| (int bytes.[i + 2] <<< 8) ||| int bytes.[i + 3]
    be 16, be 20

/// A fresh temporary folder for `body`, removed afterwards.
let withFolder (label: string) (body: string -> unit) =
    let directory = Path.Combine(Path.GetTempPath(), sprintf "rnnad-%s-%s" label (Guid.NewGuid().ToString("N")))
    try body directory
    finally
        if Directory.Exists directory then Directory.Delete(directory, true)

/// Runs an example in quick mode into `directory`, collecting the lines it writes.
let runQuickIn (run: ExampleOptions -> ExampleResult) (directory: string) (dataPath: string option) (seed: int option) : string list * ExampleResult =
    let lines = ResizeArray<string>()
    let result = run { ExampleOptions.create directory with Quick = true; Write = lines.Add; DataPath = dataPath; Seed = seed }
    List.ofSeq lines, result

/// Runs an example in quick mode into a fresh temporary folder (removed afterwards) and checks the folder,
/// the lines written and the result.
let runQuick (run: ExampleOptions -> ExampleResult) (label: string) (seed: int option) (check: string -> string list -> ExampleResult -> unit) =
    withFolder label (fun directory ->
        let lines, result = runQuickIn run directory None seed
        check directory lines result)

/// A metric by name; a missing one fails the test, listing those present.
let metric (result: ExampleResult) (name: string) : float =
    match result.Metrics.TryFind name with
    | Some v -> v
    | None -> failtestf "metric '%s' is missing; present: %A" name (result.Metrics |> Map.keys |> List.ofSeq)

/// Every file written lies in `directory` and is a PNG of at least the given size; no temporary file is left.
let checkPictures (directory: string) (files: string list) (minWidth: int) (minHeight: int) =
    for file in files do
        Expect.equal (Path.GetDirectoryName file) (Path.GetFullPath directory) (sprintf "%s lies in the output folder" file)
        let bytes = File.ReadAllBytes file
        Expect.isGreaterThan bytes.Length 24 (sprintf "%s holds more than a PNG header" file)
        Expect.equal bytes.[0..7] pngSignature (sprintf "%s starts with the PNG signature" file)
        let width, height = pngSize bytes
        Expect.isTrue (width >= minWidth && height >= minHeight) (sprintf "%s is %d × %d pixels, a readable size" file width height)
    Expect.isEmpty (Directory.GetFiles(directory, "*.tmp")) "no temporary file is left behind"
