namespace RnnAd.Cli

open System
open System.IO
open System.Threading
open Argu
open RnnAd.Examples

/// `rnnad seed <number>`: one seed lecture re-lived by the examples library, its report on the terminal and its
/// pictures in a folder.
[<RequireQualifiedAccess>]
module SeedCommand =

    /// Every seed lecture, in order.
    let numbers = [ "000"; "001"; "002"; "003"; "004" ]

    /// The seed examples this build holds: one line each. Seed 002's example also covers 004 (the same
    /// sentence), so both numbers will name it.
    let available: (string * (ExampleOptions -> ExampleResult)) list =
        [ "000", Seed000.run
          "001", Seed001.run
          "002", Seed002.run
          "003", Seed003.run
          "004", Seed002.run ]

    /// "7" and "007" both name seed 007.
    let private normalise (number: string) =
        if not (String.IsNullOrEmpty number) && number.Length <= 3 && number |> Seq.forall Char.IsAsciiDigit then number.PadLeft(3, '0')
        else number

    /// Runs the seed; returns the exit code.
    let run (t: Terminal) (_: CancellationToken) (args: ParseResults<SeedArgs>) : int =
        let number =
            match args.TryGetResult SeedArgs.Number with
            | Some n -> normalise n
            | None -> Options.fail (sprintf "rnnad seed needs the seed's number, one of %s" (String.Join(", ", numbers)))
        if not (List.contains number numbers) then
            Options.fail (sprintf "unknown seed '%s'; expected one of %s" number (String.Join(", ", numbers)))
        let example =
            match available |> List.tryFind (fst >> (=) number) with
            | Some (_, example) -> example
            | None ->
                raise (CommandFailedException(
                    sprintf "seed %s is not available in this build (available: %s)" number (String.Join(", ", List.map fst available))))
        let data = args.TryGetResult SeedArgs.Data
        match data with
        | Some path when not (File.Exists path || Directory.Exists path) -> raise (CommandFailedException(sprintf "--data: '%s' does not exist" path))
        | _ -> ()
        let options =
            { Quick = args.Contains SeedArgs.Quick
              OutputDirectory = args.GetResult(SeedArgs.Output, sprintf "rnnad-seed-%s" number)
              Write = Terminal.line t
              DataPath = data
              Seed = args.TryGetResult SeedArgs.Seed }
        if String.IsNullOrWhiteSpace options.OutputDirectory then Options.fail "--output must name a folder"
        example options |> ignore
        0
