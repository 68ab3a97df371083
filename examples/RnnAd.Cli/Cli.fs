namespace RnnAd.Cli

open System
open System.IO
open System.Threading
open Argu
open RnnAd.FSharp

/// The `rnnad` program without its process: parses a command line, runs the command on a terminal and returns
/// the exit code, so tests can run every command in-process. Exit codes: 0 done, 1 the command failed (a
/// failed gradient check, a missing or invalid file), 2 the command line is wrong, 130 interrupted.
[<RequireQualifiedAccess>]
module Cli =

    /// The parser of every command; the usage text is laid out for 100 columns whatever the terminal's width,
    /// so `--help` reads the same everywhere (and in the README).
    let parser: ArgumentParser<RnnadArgs> = ArgumentParser.Create<RnnadArgs>(programName = "rnnad", usageStringCharacterWidth = 100)

    /// One line, whatever the message holds, without the " (Parameter 'name')" that ArgumentException appends
    /// (the library's messages already name what is at fault, in words).
    let private oneLine (message: string) =
        Text.RegularExpressions.Regex.Replace(message.Replace("\r\n", " ").Replace('\n', ' ').Trim(), @" \(Parameter '[^']*'\)$", "")

    /// Argu's message is "ERROR: what is wrong." followed by the usage text of the (sub)command; the usage line
    /// names the command ("USAGE: rnnad train [--help] ...").
    let private parseError (message: string) : string =
        let lines = message.Replace("\r\n", "\n").Split '\n'
        let problem = lines.[0].Replace("ERROR: ", "").Trim().TrimEnd('.')
        let command =
            lines |> Array.tryPick (fun l ->
                let l = l.Trim()
                if l.StartsWith("USAGE: ", StringComparison.Ordinal) then
                    Some(l.Substring(7).Split(' ') |> Array.takeWhile (fun w -> w <> "" && not (w.StartsWith "[") && not (w.StartsWith "<") && not (w.StartsWith "-")) |> String.concat " ")
                else None)
            |> Option.defaultValue "rnnad"
        sprintf "%s: %s (%s --help lists the options)" command problem command

    let private dispatch (t: Terminal) (cancel: CancellationToken) (argv: string[]) : int =
        let results = parser.ParseCommandLine(argv, raiseOnUsage = true)
        match results.TryGetSubCommand() with
        | Some (RnnadArgs.Train args) -> TrainCommand.run t cancel args
        | Some (RnnadArgs.Sample args) -> SampleCommand.run t cancel args
        | Some (RnnadArgs.Evaluate args) -> EvaluateCommand.run t cancel args
        | Some (RnnadArgs.GradCheck args) -> GradCheckCommand.run t cancel args
        | Some (RnnadArgs.Export args) -> ExportCommand.run t cancel args
        | Some (RnnadArgs.Seed args) -> SeedCommand.run t cancel args
        | Some (RnnadArgs.Info args) -> InfoCommand.run t cancel args
        | None -> Options.fail "no command given; expected train, sample, evaluate, gradcheck, export, seed or info (rnnad --help describes them)"

    /// Runs a command line; every error becomes one line on the terminal's error writer and an exit code.
    let run (t: Terminal) (cancel: CancellationToken) (argv: string[]) : int =
        let fail (code: int) (message: string) =
            t.Error.WriteLine(oneLine message)
            code
        try
            dispatch t cancel argv
        with
        | :? ArguParseException as e when e.ErrorCode = ErrorCode.HelpText ->
            t.Out.WriteLine(e.Message.TrimEnd())
            0
        | :? ArguParseException as e -> fail 2 (parseError e.Message)
        | UsageException message -> fail 2 ("rnnad: " + message)
        | CommandFailedException message -> fail 1 ("rnnad: " + message)
        | :? OperationCanceledException as e -> fail 130 ("rnnad: " + e.Message)
        | :? FileNotFoundException
        | :? DirectoryNotFoundException
        | :? InvalidDataException
        | :? UnauthorizedAccessException
        | :? IOException
        | :? ArgumentException as e -> fail 1 ("rnnad: " + e.Message)
        | e -> fail 70 (sprintf "rnnad: unexpected %s: %s (this is likely a bug in rnnad or RnnAd; please report it with the command line)" (e.GetType().Name) e.Message)
