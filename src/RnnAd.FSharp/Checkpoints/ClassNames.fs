namespace RnnAd.FSharp

open System
open System.IO
open System.Text.Json
open RnnAd

/// The names of a classifier's classes, carried in a checkpoint's metadata (key "rnnad.class_names", a JSON
/// array of strings, one per output) so that a loaded model says what it predicts.
[<RequireQualifiedAccess>]
module ClassNames =

    /// The metadata key.
    [<Literal>]
    let metadataKey = "rnnad.class_names"

    /// What is wrong with names for a head of `outputs` classes, if anything: there must be one non-null,
    /// distinct name per output.
    let problem (outputs: int) (names: string[]) : string option =
        if isNull names then Some "the class names are null"
        elif names.Length <> outputs then Some(sprintf "%d class names for a model of %d outputs; give one name per output" names.Length outputs)
        else
            match Array.tryFindIndex isNull names with
            | Some i -> Some(sprintf "class name %d is null" i)
            | None ->
                names |> Array.countBy id |> Array.tryFind (fun (_, c) -> c > 1)
                |> Option.map (fun (n, c) -> sprintf "the class name '%s' appears %d times; class names must be distinct" n c)

    /// Raises an ArgumentException naming the problem unless the names suit a head of `outputs` classes.
    let validate (outputs: int) (names: string[]) : unit = problem outputs names |> Option.iter (invalidArg "names")

    /// The metadata entry holding the names.
    let toMetadata (names: string[]) : string * string = metadataKey, JsonSerializer.Serialize names

    /// The names in a checkpoint's metadata, if any, checked against its model's `outputs`; raises
    /// InvalidDataException naming the file (`path`) and the problem when they are malformed.
    let ofMetadata (path: string) (outputs: int) (metadata: Map<string, string>) : string[] option =
        metadata.TryFind metadataKey |> Option.map (fun text ->
            let bad (message: string) : 'a = raise (InvalidDataException(sprintf "checkpoint '%s': metadata key '%s': %s" path metadataKey message))
            let names =
                try
                    use doc = JsonDocument.Parse text
                    if doc.RootElement.ValueKind <> JsonValueKind.Array then bad (sprintf "expected a JSON array of strings, found %s" (doc.RootElement.GetRawText()))
                    [| for e in doc.RootElement.EnumerateArray() ->
                        if e.ValueKind <> JsonValueKind.String then bad (sprintf "expected a JSON array of strings, found %s in it" (e.GetRawText()))
                        try e.GetString() with :? InvalidOperationException -> bad (sprintf "%s is not valid Unicode text" (e.GetRawText())) |]
                with :? JsonException as e -> bad (sprintf "not well-formed JSON: %s" e.Message)
            problem outputs names |> Option.iter bad
            names)

    /// Saves a model checkpoint (as `Checkpoint.save`) that also carries its class names.
    let save (path: string) (spec: ModelSpec) (vocabulary: string[] option) (parameters: NamedTensors) (names: string[]) : unit =
        validate spec.Outputs names
        Checkpoint.saveWith path spec vocabulary parameters [ toMetadata names ] [||]
