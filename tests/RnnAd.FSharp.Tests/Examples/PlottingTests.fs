module RnnAd.FSharp.Tests.Examples.PlottingTests

open System
open System.IO
open Expecto
open RnnAd.Examples
open RnnAd.FSharp.Tests

let private heatmap rows cols =
    { Title = "table"; Values = Array2D.init rows cols (fun r c -> float (r - c)); RowLabels = Array.init rows string
      ColumnLabels = Array.init cols string; Limit = None; ShowValues = true; Dividers = [] }

/// Runs `f` with a path inside a fresh temporary folder, removed afterwards.
let private inTemporaryFolder (f: string -> unit) =
    let directory = Path.Combine(Path.GetTempPath(), "rnnad-plotting-" + Guid.NewGuid().ToString("N"))
    try f directory
    finally if Directory.Exists directory then Directory.Delete(directory, true)

[<Tests>]
let tests =
    testList "Examples/plotting" [
        test "columns lays named columns out as a table [row, column]" {
            let labels, table = Plotting.columns [ "h", [| 1.0; 2.0 |]; "y", [| 3.0; 4.0 |] ]
            Expect.equal labels [| "h"; "y" |] "labels"
            Expect.equal table (array2D [ [ 1.0; 3.0 ]; [ 2.0; 4.0 ] ]) "row r holds entry r of every column"
        }
        test "bad input is refused with a message naming what is wrong" {
            inTemporaryFolder (fun directory ->
                let path = Path.Combine(directory, "map.png")
                Check.throwsWith [ "3 rows"; "2 row labels" ] (fun () -> Plotting.heatmap { heatmap 3 2 with RowLabels = [| "a"; "b" |] } path)
                Check.throwsWith [ "2 columns"; "1 column labels" ] (fun () -> Plotting.heatmap { heatmap 3 2 with ColumnLabels = [| "a" |] } path)
                Check.throwsWith [ "divider"; "got 2" ] (fun () -> Plotting.heatmap { heatmap 3 2 with Dividers = [ 2 ] } path)
                Check.throwsWith [ "colour limit"; "-1" ] (fun () -> Plotting.heatmap { heatmap 3 2 with Limit = Some -1.0 } path)
                Check.throwsWith [ "must end in .png"; "map.jpg" ] (fun () -> Plotting.heatmap (heatmap 3 2) (Path.Combine(directory, "map.jpg")))
                Check.throwsWith [ "column 'b' has 1 rows"; "first column has 2" ] (fun () -> Plotting.columns [ "a", [| 1.0; 2.0 |]; "b", [| 1.0 |] ])
                Check.throwsWith [ "log y axis"; "'loss' holds 0" ] (fun () -> Plotting.lossCurve "losses" [ "loss", [| 1.0; 0.0 |] ] path)
                Expect.isFalse (File.Exists path) "nothing is written for refused input")
        }
        test "a picture replaces an older file of the same name, leaving no temporary file" {
            inTemporaryFolder (fun directory ->
                let path = Path.Combine(directory, "curve.png")
                Directory.CreateDirectory directory |> ignore
                File.WriteAllText(path, "old")
                let written = Plotting.lossCurve "losses" [ "run", [| 2.0; 1.0; 0.5 |] ] path
                Expect.equal written (Path.GetFullPath path) "the full path is returned"
                Expect.equal (File.ReadAllBytes(path).[0..3]) [| 0x89uy; 0x50uy; 0x4Euy; 0x47uy |] "the old file is replaced by a PNG"
                Expect.equal (Directory.GetFiles directory |> Array.map Path.GetFileName) [| "curve.png" |] "only the picture remains")
        }
    ]
