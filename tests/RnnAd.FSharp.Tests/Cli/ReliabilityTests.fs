module RnnAd.FSharp.Tests.Cli.ReliabilityTests

open System
open System.IO
open Expecto
open RnnAd.FSharp.Tests.Data

// Bad input as a careless or hostile user gives it: every case ends in one clear line and an exit code, and no
// file but rnnad's own output is ever written.

let private rnnad = CliSupport.rnnad

/// `rnnad train` on the 100-character `abcd` text in `folder` with tiny sizes; `options` (name, value) replace
/// the tiny defaults of the same name or add to them (a value of "" adds a flag).
let private tiny (folder: string) (options: (string * string) list) =
    let text = Path.Combine(folder, "abcd.txt")
    if not (File.Exists text) then File.WriteAllText(text, CliSupport.abcd)
    let defaults =
        [ "--text", text; "--hidden", "2"; "--embedding", "2"; "--window", "4"; "--epochs", "1"; "--sample-length", "0"
          "--output", Path.Combine(folder, "model.safetensors") ]
    let given = options |> List.map fst
    let all = (defaults |> List.filter (fun (name, _) -> not (List.contains name given))) @ options
    rnnad ("train" :: [ for name, value in all do
                            name
                            if value <> "" then value ])

[<Tests>]
let sizes =
    testList "Cli/sizes" [
        test "a window longer than the text is refused naming --window, even at int.MaxValue" {
            TempFolder.run (fun folder ->
                for window in [ "101"; "2147483647"; "2147483646" ] do
                    let run = tiny folder [ "--window", window ]
                    CliSupport.expectError 2 [ "--window " + window; "100 characters" ] run ("--window " + window)
                    Expect.isFalse (File.Exists(Path.Combine(folder, "model.safetensors"))) "no checkpoint is written")
        }
    ]
