namespace RnnAd.FSharp.Data

open System
open System.Globalization
open System.IO
open CsvHelper

/// Texts with a class each, read from a CSV file: `Labels` index into `ClassNames`.
type LabelledTextTable =
    { Texts: string[]
      Labels: int[]
      /// The distinct labels of the file in ordinal order, so the same file always gives the same indices.
      ClassNames: string[] }

/// Reading training data from CSV files with a header row (RFC 4180: commas, double quotes around fields that
/// hold commas, quotes or line breaks), read as strict UTF-8 by `TextFile.read`. Columns are found by their
/// header names; every error names the file, the line a row starts on (counted from 1, the header's included)
/// and the column.
[<RequireQualifiedAccess>]
module Csv =

    /// The header and every record of a CSV file, each record with the line it starts on.
    let private table (path: string) : string[] * (int64 * string[])[] =
        let bad (message: string) : 'a = raise (InvalidDataException(sprintf "CSV file '%s': %s" path message))
        let text = TextFile.read path
        // The separator is a comma, never guessed from the data; malformed quoting and ragged rows are errors
        // rather than values silently repaired or read as empty.
        let options =
            CsvReaderOptions(
                Separator = Nullable ',', MalformedData = CsvMalformedDataHandling.Throw,
                FieldCountMismatch = CsvFieldCountHandling.Throw, TrackLineNumbers = true)
        use csv = CsvReader.FromText(text, options)
        try
            let header = Array.ofSeq csv.Headers
            if header.Length = 0 then bad "it has no header row"
            let rows = ResizeArray()
            while csv.Read() do
                rows.Add((csv.LineNumber, Array.init csv.FieldCount csv.GetString))
            header, rows.ToArray()
        with :? CsvFormatException as e ->
            bad (sprintf "it is not well-formed CSV%s: %s" (if e.LineNumber > 0L then sprintf " at line %d" e.LineNumber else "") (e.Message.Split('\n').[0]))

    /// The index of a column by its header name; raises naming the columns present when it is missing or twice.
    let private column (path: string) (header: string[]) (name: string) : int =
        if isNull name then nullArg "column"
        match header |> Array.indexed |> Array.filter (fun (_, h) -> h = name) with
        | [| i, _ |] -> i
        | [||] ->
            raise (InvalidDataException(
                sprintf "CSV file '%s' has no column '%s' (its columns: %s)" path name (String.Join(", ", header |> Array.map (sprintf "'%s'")))))
        | _ -> raise (InvalidDataException(sprintf "CSV file '%s' has two columns named '%s'" path name))

    /// The texts of `textColumn` and the labels of `labelColumn`, one example per row. Raises
    /// InvalidDataException naming the line when a text or a label is empty, or the file has no row.
    let readLabelledText (path: string) (textColumn: string) (labelColumn: string) : LabelledTextTable =
        let header, rows = table path
        let t, l = column path header textColumn, column path header labelColumn
        if rows.Length = 0 then raise (InvalidDataException(sprintf "CSV file '%s' has a header but no row" path))
        for row, record in rows do
            for index, name in [ t, textColumn; l, labelColumn ] do
                if String.IsNullOrWhiteSpace record.[index] then
                    raise (InvalidDataException(sprintf "CSV file '%s': line %d has no value in column '%s'" path row name))
        let labels = rows |> Array.map (fun (_, r) -> r.[l])
        let classNames = labels |> Array.distinct |> Array.sortWith (fun a b -> String.CompareOrdinal(a, b))
        let index = classNames |> Array.mapi (fun i n -> n, i) |> dict
        { Texts = rows |> Array.map (fun (_, r) -> r.[t]); Labels = labels |> Array.map (fun n -> index.[n]); ClassNames = classNames }

    /// The values of `columns`, one row per record in file order (time → values of the columns, in the order
    /// asked). Raises InvalidDataException naming the line and column of a value that is empty, not a number in
    /// the invariant culture, or not finite.
    let readSeries (path: string) (columns: string[]) : float[][] =
        if isNull columns then nullArg "columns"
        if columns.Length = 0 then invalidArg "columns" "name at least one column to read"
        let header, rows = table path
        let indices = columns |> Array.map (column path header)
        if rows.Length = 0 then raise (InvalidDataException(sprintf "CSV file '%s' has a header but no row" path))
        rows |> Array.map (fun (row, record) ->
            Array.map2 (fun (i: int) (name: string) ->
                match Double.TryParse(record.[i], NumberStyles.Float, CultureInfo.InvariantCulture) with
                | true, v when Double.IsFinite v -> v
                | _ ->
                    raise (InvalidDataException(
                        sprintf "CSV file '%s': line %d, column '%s' holds '%s', not a finite number" path row name record.[i]))) indices columns)
