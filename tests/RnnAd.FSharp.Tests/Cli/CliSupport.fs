namespace RnnAd.FSharp.Tests.Cli

open System
open System.IO
open System.Threading
open Expecto
open RnnAd.Cli

/// What one in-process run of `rnnad` left: its exit code and everything it wrote.
type CliRun = { Code: int; Out: string; Error: string }

/// A writer that runs `act` once, the first time a line holding `trigger` is written: the hook tests use to
/// change the world at a known point of a run, without timing.
type TriggerWriter(trigger: string, act: unit -> unit) =
    inherit StringWriter()
    let mutable fired = false
    override w.WriteLine(line: string) =
        base.WriteLine line
        if not fired && not (isNull line) && line.Contains trigger then
            fired <- true
            act ()

/// Running `rnnad` in-process with plain output captured, as a CI log would receive it.
[<RequireQualifiedAccess>]
module CliSupport =

    /// Runs a command line with its output written to `out`, cancelled by `cancel`.
    let runCancellable (cancel: CancellationToken) (out: TextWriter) (argv: string list) : CliRun =
        use error = new StringWriter()
        let code = Cli.run (Terminal.plain out error) cancel (Array.ofList argv)
        { Code = code; Out = out.ToString(); Error = error.ToString() }

    /// Runs a command line with its output written to `out`.
    let runWith (out: TextWriter) (argv: string list) : CliRun = runCancellable CancellationToken.None out argv

    /// Runs a command line.
    let rnnad (argv: string list) : CliRun =
        use out = new StringWriter()
        runWith out argv

    /// The non-empty lines of a text.
    let lines (text: string) = text.Replace("\r\n", "\n").Split('\n', StringSplitOptions.RemoveEmptyEntries)

    /// Fails unless the run exited 0 with nothing on stderr.
    let expectSuccess (run: CliRun) (what: string) =
        if run.Code <> 0 then failtestf "%s: exit code %d, stderr: %s\nstdout:\n%s" what run.Code run.Error run.Out
        Expect.equal run.Error "" (sprintf "%s writes nothing to stderr" what)

    /// Fails unless the run exited with `code` and exactly one line on stderr holding every fragment.
    let expectError (code: int) (fragments: string list) (run: CliRun) (what: string) =
        let errorLines = lines run.Error
        if run.Code <> code || errorLines.Length <> 1 then
            failtestf "%s: expected exit code %d and one line on stderr, got %d and:\n%s\nstdout:\n%s" what code run.Code run.Error run.Out
        for fragment in fragments do
            Expect.stringContains errorLines.[0] fragment (sprintf "%s: the line names the problem" what)

    /// Runs the rnnad program built next to the test suite as a process with extra environment variables;
    /// returns its exit code, standard output and standard error. A process still running after five minutes
    /// is killed and fails the test: a guard against a hang, far above what any case here needs.
    let program (argv: string list) (environment: (string * string) list) : int * string * string =
        let info = Diagnostics.ProcessStartInfo("dotnet", RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "rnnad.dll"))
        for a in argv do
            info.ArgumentList.Add a
        for name, value in environment do
            info.Environment.[name] <- value
        use p = Diagnostics.Process.Start info
        let out = p.StandardOutput.ReadToEndAsync()
        let error = p.StandardError.ReadToEndAsync()
        if not (p.WaitForExit(TimeSpan.FromMinutes 5.0)) then
            p.Kill true
            failtestf "rnnad %s did not finish within five minutes" (String.Join(" ", argv))
        p.ExitCode, out.Result, error.Result

    /// A 100-character text of four letters: its vocabulary, windows and batches can be counted by hand.
    let abcd = String.replicate 25 "abcd"

    /// `rnnad train` on `abcd` with tiny sizes: window 9, stride 9 gives (100 − 9 − 1) / 9 + 1 = 11 windows, in
    /// batches of 4: 3 batches per epoch. Returns the run and the checkpoint's path.
    let trainAbcd (folder: string) (extra: string list) : CliRun * string =
        let text = Path.Combine(folder, "abcd.txt")
        File.WriteAllText(text, abcd)
        let model = Path.Combine(folder, "model.safetensors")
        let run =
            rnnad ([ "train"; "--text"; text; "--hidden"; "8"; "--embedding"; "3"; "--window"; "9"; "--stride"; "9"
                     "--batch-size"; "4"; "--sample-length"; "12"; "--output"; model ] @ extra)
        run, model
