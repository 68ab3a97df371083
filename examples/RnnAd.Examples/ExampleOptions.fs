namespace RnnAd.Examples

open System
open System.IO

/// What every seed example takes.
type ExampleOptions =
    { /// CI mode: far fewer epochs through the same code path, so the example cannot silently rot.
      Quick: bool
      /// Where the example writes its pictures (created if missing).
      OutputDirectory: string
      /// Receives the example's report, one line at a time, so a command line can route or decorate it.
      Write: string -> unit
      /// A data set to use instead of the example's own generated data, for the examples that read one.
      DataPath: string option
      /// The seed every random choice derives from; None keeps the example's own (the one its lesson shows).
      Seed: int option }

/// What a seed example leaves behind, for a caller or a test to inspect.
type ExampleResult =
    { /// The files written, in the order they were written.
      Files: string list
      /// Key numbers under stable names such as `abc-h1.accuracy`.
      Metrics: Map<string, float> }

/// Helpers over example options.
[<RequireQualifiedAccess>]
module ExampleOptions =

    /// Full mode writing into `outputDirectory` and printing to standard output.
    let create (outputDirectory: string) : ExampleOptions =
        { Quick = false; OutputDirectory = outputDirectory; Write = Console.WriteLine; DataPath = None; Seed = None }

    /// The output directory, created if missing; raises naming the directory if it cannot be.
    let ensureOutputDirectory (options: ExampleOptions) : string =
        if String.IsNullOrWhiteSpace options.OutputDirectory then
            invalidArg "OutputDirectory" "the output directory must be given, got an empty path"
        Directory.CreateDirectory(options.OutputDirectory).FullName
