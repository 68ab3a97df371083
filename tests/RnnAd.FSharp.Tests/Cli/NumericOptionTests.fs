module RnnAd.FSharp.Tests.Cli.NumericOptionTests

open System
open System.Globalization
open System.IO
open Expecto
open RnnAd.FSharp.Tests

// Every numeric option of train, sample and gradcheck, given any int or float: the command runs (exit 0, nothing
// on stderr) or refuses with exit 1 or 2 and exactly one line on stderr. Never exit 70 (a bug), never an
// exception out of Cli.run. Everything else stays tiny, so what a value makes the command do is what is tested,
// and sizes no machine holds must be refused up front for the runs to stay fast.

/// The ints every option is tried with: the ends of int's range, around zero, and the values whose +1 or
/// doubling wraps around.
let private edgeInts = [ Int32.MinValue; Int32.MinValue + 1; -1; 0; 1; 2; Int32.MaxValue - 1; Int32.MaxValue ]

/// The floats every option is tried with: NaN, the infinities, zeros, the extremes and the tiniest.
let private edgeFloats =
    [ nan; infinity; -infinity; 0.0; -0.0; -1.0; Double.Epsilon; 1e-300; 0.5; 1.0; 1e300; Double.MaxValue; -Double.MaxValue ]

/// The per-case allocation bound: far above what a tiny run allocates, far below what an unchecked size would.
let private allocationBound = 1L <<< 30

/// Runs one command line and checks the outcome; returns the exit code.
let private expectClean (argv: string list) : int =
    let what = "rnnad " + String.Join(" ", argv)
    let before = GC.GetAllocatedBytesForCurrentThread()
    let run =
        try CliSupport.rnnad argv
        with e -> failtestf "%s: %s escaped Cli.run: %s" what (e.GetType().Name) e.Message
    let allocated = GC.GetAllocatedBytesForCurrentThread() - before
    let errorLines = CliSupport.lines run.Error
    match run.Code with
    | 0 -> if run.Error <> "" then failtestf "%s: exit code 0 but stderr holds: %s" what run.Error
    | 1
    | 2 -> if errorLines.Length <> 1 then failtestf "%s: exit code %d with %d lines on stderr (expected one): %s" what run.Code errorLines.Length run.Error
    | code -> failtestf "%s: exit code %d: %s" what code run.Error
    if allocated > allocationBound then failtestf "%s: allocated %d MB on the test's thread" what (allocated >>> 20)
    run.Code

/// The tiny text and a tiny model trained on it, made once and shared (read only) by every test here; the
/// folder goes when the test process ends.
let private shared =
    lazy
        (let folder = Path.Combine(Path.GetTempPath(), "rnnad-numeric-options-" + Guid.NewGuid().ToString "N")
         Directory.CreateDirectory folder |> ignore
         AppDomain.CurrentDomain.ProcessExit.Add(fun _ -> try Directory.Delete(folder, true) with _ -> ())
         let text = Path.Combine(folder, "abcd.txt")
         File.WriteAllText(text, CliSupport.abcd)
         let model = Path.Combine(folder, "model.safetensors")
         CliSupport.expectSuccess
             (CliSupport.rnnad
                 [ "train"; "--text"; text; "--hidden"; "2"; "--embedding"; "2"; "--window"; "4"; "--epochs"; "1"; "--sample-length"; "0"
                   "--output"; model ])
             "the model to sample from"
         text, model)

/// A command's tiny base line, given a fresh folder for what it writes.
type private Command = { Name: string; Base: string -> (string * string) list }

let private train =
    { Name = "train"
      Base =
        fun folder ->
            [ "--text", fst shared.Value; "--hidden", "2"; "--embedding", "2"; "--window", "4"; "--epochs", "1"; "--batch-size", "16"
              "--sample-length", "0"; "--output", Path.Combine(folder, "model.safetensors") ] }

let private sample = { Name = "sample"; Base = fun _ -> [ "--model", snd shared.Value; "--length", "5" ] }

let private gradcheck = { Name = "gradcheck"; Base = fun _ -> [ "--hidden", "2"; "--time", "3"; "--cell", "rnn" ] }

/// Runs `command` with `option` set to `value` (replacing the base's value when it has one), in a fresh folder.
let private tryValue (command: Command) (option: string) (value: string) : unit =
    TempFolder.run (fun folder ->
        let others = command.Base folder |> List.filter (fun (name, _) -> name <> option)
        expectClean (command.Name :: [ for name, v in others @ [ option, value ] do
                                           name
                                           v ])
        |> ignore)

let private intOptions =
    [ train, [ "--hidden"; "--layers"; "--embedding"; "--window"; "--stride"; "--epochs"; "--batch-size"; "--bptt"; "--seed"; "--checkpoint-every"; "--sample-length" ]
      sample, [ "--length"; "--top-k"; "--seed" ]
      gradcheck, [ "--hidden"; "--layers"; "--time"; "--batch"; "--input"; "--outputs"; "--bptt"; "--seed" ] ]

let private floatOptions =
    [ train, [ "--learning-rate"; "--clip-norm"; "--dropout" ]
      sample, [ "--temperature" ] ]

let private format (value: float) = value.ToString("R", CultureInfo.InvariantCulture)

/// FsCheck's draws replayed from a seed fixed per test (FNV-1a of its name, stable across processes, unlike
/// String.GetHashCode): the same values on every run, other values for each option.
let private config (name: string) =
    let seed = name |> Seq.fold (fun (h: uint64) c -> (h ^^^ uint64 c) * 0x100000001B3UL) 0xCBF29CE484222325UL
    { FsCheckConfig.defaultConfig with maxTest = 10; replay = Some(seed, 0x9E3779B97F4A7C15UL, None) }

/// Two tests of one option: its edge values, and FsCheck's draws of the option's type.
let private optionTests (edgesName: string) (typeName: string) (edges: 'a list) (show: 'a -> string) (command: Command, option: string) : Test list =
    let name = sprintf "%s %s at any %s" command.Name option typeName
    [ test (sprintf "%s %s at %s" command.Name option edgesName) {
          for value in edges do
              tryValue command option (show value)
      }
      testPropertyWithConfig (config name) name <| fun (value: 'a) -> tryValue command option (show value) ]

[<Tests>]
let tests =
    testList "Cli/numeric options" [
        for command, options in intOptions do
            for option in options do
                yield! optionTests "the ends of int's range" "int" edgeInts string (command, option)
        for command, options in floatOptions do
            for option in options do
                yield! optionTests "NaN, the infinities, zeros and the extremes" "float" edgeFloats format (command, option)
    ]
