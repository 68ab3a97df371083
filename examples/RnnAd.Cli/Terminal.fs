namespace RnnAd.Cli

open System
open System.IO
open Spectre.Console
open Spectre.Console.Rendering

/// Where the commands write. A person at a terminal gets Spectre.Console's tables and progress bars; redirected
/// output (CI, pipes, tests) gets plain lines that read well in a log, with nothing redrawn in place.
type Terminal =
    { /// Standard output, for plain lines (and for text meant to be piped, such as a sample).
      Out: TextWriter
      /// Where the one-line error messages go.
      Error: TextWriter
      /// Spectre's console when the output is an interactive terminal; None for plain lines.
      Rich: IAnsiConsole option }

/// Moves a progress display: the position (out of the total it was started with) and a one-line description.
type ProgressReporter = { Update: float -> string -> unit }

/// Writing lines, tables and progress to a terminal, rich or plain.
[<RequireQualifiedAccess>]
module Terminal =

    /// Plain lines to the given writers (tests, or any caller that captures the output).
    let plain (out: TextWriter) (error: TextWriter) : Terminal = { Out = out; Error = error; Rich = None }

    /// Spectre's widgets drawn on `console`, errors to `error`.
    let rich (console: IAnsiConsole) (out: TextWriter) (error: TextWriter) : Terminal = { Out = out; Error = error; Rich = Some console }

    /// The process's console: rich only when standard output is an interactive terminal that understands ANSI
    /// codes (Spectre's detection also recognises CI environments and TERM=dumb), plain otherwise.
    let system () : Terminal =
        let capabilities = AnsiConsole.Profile.Capabilities
        if not Console.IsOutputRedirected && capabilities.Interactive && capabilities.Ansi then
            rich AnsiConsole.Console Console.Out Console.Error
        else plain Console.Out Console.Error

    /// One line of text, written as is (no markup).
    let line (t: Terminal) (text: string) : unit =
        match t.Rich with
        | Some c -> c.WriteLine text
        | None -> t.Out.WriteLine text

    /// A line that starts a section: bold on a terminal, plain otherwise.
    let heading (t: Terminal) (text: string) : unit =
        match t.Rich with
        | Some c -> c.MarkupLine("[bold]" + Markup.Escape text + "[/]")
        | None -> t.Out.WriteLine text

    /// A table under a title: Spectre's table on a terminal, aligned columns separated by two spaces otherwise.
    /// `columns` names each column and whether its cells align right (numbers).
    let table (t: Terminal) (title: string) (columns: (string * bool) list) (rows: string[] list) : unit =
        let columns = Array.ofList columns
        rows |> List.iteri (fun i row ->
            if row.Length <> columns.Length then
                invalidArg "rows" (sprintf "row %d of table '%s' has %d cells, the table has %d columns" i title row.Length columns.Length))
        match t.Rich with
        | Some c ->
            let table = Table(Border = TableBorder.Rounded)
            if title <> "" then table.Title <- TableTitle(Markup.Escape title)
            for name, right in columns do
                table.AddColumn(TableColumn(Markup.Escape name, Alignment = (if right then Justify.Right else Justify.Left))) |> ignore
            for row in rows do
                table.AddRow(row |> Array.map (fun cell -> Text cell :> IRenderable)) |> ignore
            c.Write table
        | None ->
            let all = Array.append [| Array.map fst columns |] (Array.ofList rows)
            let widths = Array.init columns.Length (fun j -> all |> Array.map (fun r -> r.[j].Length) |> Array.max)
            let pad j (cell: string) = if snd columns.[j] then cell.PadLeft widths.[j] else cell.PadRight widths.[j]
            if title <> "" then t.Out.WriteLine title
            for row in all do
                t.Out.WriteLine(String.Join("  ", Array.mapi pad row).TrimEnd())

    /// Runs `work` with a progress bar of `total` units on a terminal; without one the reporter does nothing
    /// (plain output reports at its own milestones instead, e.g. once per epoch).
    let progress (t: Terminal) (description: string) (total: float) (work: ProgressReporter -> 'a) : 'a =
        match t.Rich with
        | Some c ->
            c.Progress()
                .AutoClear(false)
                .Columns(
                    [| TaskDescriptionColumn() :> ProgressColumn
                       ProgressBarColumn()
                       PercentageColumn()
                       ElapsedTimeColumn()
                       SpinnerColumn() |])
                .Start(Func<ProgressContext, 'a>(fun context ->
                    let task = context.AddTask(Markup.Escape description, true, max total 1.0)
                    let result =
                        work { Update = fun value text ->
                                    task.Value <- value
                                    task.Description <- Markup.Escape text }
                    task.Value <- task.MaxValue
                    result))
        | None -> work { Update = fun _ _ -> () }
