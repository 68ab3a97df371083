namespace RnnAd.FSharp

open System
open System.Globalization
open System.IO
open System.Text
open System.Text.Json

/// A training history as text: CSV (one row per epoch, the scalar figures) and JSON (everything, per-class
/// figures and confusion matrices included). Epochs are 0-based as in `EpochReport`; numbers are written in
/// round-trip form with the invariant culture.
[<RequireQualifiedAccess>]
module History =

    let private number (v: float) = v.ToString("R", CultureInfo.InvariantCulture)

    /// The scalar figures of a side (training or validation) that some epoch reports.
    let private figuresIn (side: EpochReport -> Metrics option) (history: EpochReport list) : Metric list =
        Metrics.all |> List.filter (fun m -> history |> List.exists (fun e -> match side e with Some f -> not (Double.IsNaN(Metrics.value m f)) | None -> false))

    /// The history as CSV: a header, then one row per epoch with `epoch`, `steps`, `complete`, `seconds`,
    /// `learning_rate`, `mean_batch_loss` (`EpochReport.TrainLoss`), then `train_<figure>` and `val_<figure>`
    /// for every figure of `Metrics.all` that some epoch reports (`train_loss` is per position, as the other
    /// figures), and `best`. A figure an epoch lacks is an empty cell.
    let toCsv (history: EpochReport list) : string =
        if isNull (box history) then nullArg "history"
        let train = figuresIn (fun e -> e.Training) history
        let validation = figuresIn (fun e -> e.Validation) history
        let text = StringBuilder()
        let header =
            [ "epoch"; "steps"; "complete"; "seconds"; "learning_rate"; "mean_batch_loss" ]
            @ (train |> List.map (fun m -> "train_" + Metrics.name m))
            @ (validation |> List.map (fun m -> "val_" + Metrics.name m))
            @ [ "best" ]
        text.Append(String.Join(",", header)).Append('\n') |> ignore
        let cell (v: float) = if Double.IsNaN v then "" else number v
        let figures (ms: Metric list) (f: Metrics option) = ms |> List.map (fun m -> match f with Some f -> cell (Metrics.value m f) | None -> "")
        for e in history do
            let row =
                [ string e.Epoch; string e.Steps; (if e.Complete then "true" else "false"); number e.Seconds; number e.LearningRate; cell e.TrainLoss ]
                @ figures train e.Training
                @ figures validation e.Validation
                @ [ (if e.IsBest then "true" else "false") ]
            text.Append(String.Join(",", row)).Append('\n') |> ignore
        text.ToString()

    let private writeReal (w: Utf8JsonWriter) (v: float) = if Double.IsFinite v then w.WriteNumberValue v else w.WriteNullValue()

    let private writeMetrics (w: Utf8JsonWriter) (m: Metrics) =
        w.WriteStartObject()
        for metric in Metrics.all do
            w.WritePropertyName(Metrics.name metric)
            writeReal w (Metrics.value metric m)
        w.WriteNumber("count", m.Count)
        for name, values in [ "precision", m.Precision; "recall", m.Recall; "f1", m.F1; "support", m.Support ] do
            if values.Length > 0 then
                w.WriteStartArray name
                values |> Array.iter (writeReal w)
                w.WriteEndArray()
        match m.Confusion with
        | Some c ->
            w.WriteStartArray "confusion"
            for row in 0 .. Array2D.length1 c - 1 do
                w.WriteStartArray()
                for column in 0 .. Array2D.length2 c - 1 do
                    w.WriteNumberValue c.[row, column]
                w.WriteEndArray()
            w.WriteEndArray()
        | None -> ()
        w.WriteEndObject()

    /// The history as JSON: an array of epochs, each with `epoch`, `steps`, `complete`, `seconds`,
    /// `learning_rate`, `mean_batch_loss`, `best`, and `train` and `validation` objects (or null) holding every
    /// figure of `Metrics.all` (null where it does not apply), `count`, and per class `precision`, `recall`,
    /// `f1`, `support` and a `confusion` matrix [target][predicted] where they apply.
    let toJson (history: EpochReport list) : string =
        if isNull (box history) then nullArg "history"
        use buffer = new MemoryStream()
        do
            use w = new Utf8JsonWriter(buffer, JsonWriterOptions(Indented = true))
            w.WriteStartArray()
            for e in history do
                w.WriteStartObject()
                w.WriteNumber("epoch", e.Epoch)
                w.WriteNumber("steps", e.Steps)
                w.WriteBoolean("complete", e.Complete)
                w.WriteNumber("seconds", e.Seconds)
                w.WriteNumber("learning_rate", e.LearningRate)
                w.WritePropertyName "mean_batch_loss"
                writeReal w e.TrainLoss
                w.WriteBoolean("best", e.IsBest)
                for name, side in [ "train", e.Training; "validation", e.Validation ] do
                    w.WritePropertyName(name: string)
                    match side with
                    | Some m -> writeMetrics w m
                    | None -> w.WriteNullValue()
                w.WriteEndObject()
            w.WriteEndArray()
        Encoding.UTF8.GetString(buffer.ToArray())
