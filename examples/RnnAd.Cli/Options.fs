namespace RnnAd.Cli

open System
open System.Globalization
open RnnAd.FSharp

/// A command line the program cannot act on; the message names the option, what it takes and what it got.
exception UsageException of message: string
    with
        override e.Message = e.message

/// A command that cannot complete for a reason the user can act on (exit code 1, one line, no stack trace).
exception CommandFailedException of message: string
    with
        override e.Message = e.message

/// Reading option values into the library's types, with errors that name the option as the user typed it.
[<RequireQualifiedAccess>]
module Options =

    /// Raises a usage error.
    let fail (message: string) : 'a = raise (UsageException message)

    /// A count or size of at least 1.
    let positive (option: string) (value: int) : int =
        if value < 1 then fail (sprintf "%s must be at least 1, got %d" option value)
        value

    /// A count that may be 0.
    let nonNegative (option: string) (value: int) : int =
        if value < 0 then fail (sprintf "%s must be 0 or more, got %d" option value)
        value

    /// A finite number above 0.
    let positiveNumber (option: string) (value: float) : float =
        if not (value > 0.0) || Double.IsInfinity value then fail (sprintf "%s must be a finite number above 0, got %s" option (value.ToString CultureInfo.InvariantCulture))
        value

    /// A finite number of 0 or more.
    let nonNegativeNumber (option: string) (value: float) : float =
        if not (value >= 0.0) || Double.IsInfinity value then fail (sprintf "%s must be a finite number of 0 or more, got %s" option (value.ToString CultureInfo.InvariantCulture))
        value

    /// A probability in [0, 1).
    let probability (option: string) (value: float) : float =
        if not (value >= 0.0 && value < 1.0) then fail (sprintf "%s must be in [0, 1), got %s" option (value.ToString CultureInfo.InvariantCulture))
        value

    /// The cell kinds by their command-line names.
    let cells = [ "rnn", CellKind.RnnTanh; "rnn-relu", CellKind.RnnRelu; "lstm", CellKind.Lstm; "gru", CellKind.Gru ]

    /// The command-line name of a cell kind.
    let cellName (kind: CellKind) : string = cells |> List.find (snd >> (=) kind) |> fst

    /// Looks `value` up among named choices (case-insensitive); raises naming the option and the choices.
    let choice (option: string) (choices: (string * 'a) list) (value: string) : 'a =
        match choices |> List.tryFind (fun (name, _) -> String.Equals(name, value, StringComparison.OrdinalIgnoreCase)) with
        | Some (_, v) -> v
        | None -> fail (sprintf "%s must be one of %s, got '%s'" option (String.Join(", ", List.map fst choices)) value)

    /// The cell kind named by `--cell`.
    let cell (value: string) : CellKind = choice "--cell" cells value

    /// An optimizer with PyTorch's default hyper-parameters, named by `--optimizer`.
    let optimizer (value: string) : Optimizer =
        choice "--optimizer"
            [ "sgd", Optimizer.Sgd SgdOptions.Default
              "adam", Optimizer.Adam AdamOptions.Default
              "adamw", Optimizer.AdamW AdamOptions.DefaultW
              "rmsprop", Optimizer.RmsProp RmsPropOptions.Default ]
            value

    /// The head named by `--head`.
    let head (value: string) : HeadKind = choice "--head" [ "per-step", HeadKind.PerStep; "last-step", HeadKind.LastStep ] value

    /// A number for people: invariant culture, `digits` decimals.
    let number (digits: int) (value: float) : string = value.ToString("F" + string digits, CultureInfo.InvariantCulture)

    let private relaxed = Text.Json.JsonSerializerOptions(Encoder = Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping)

    /// Text in double quotes with control characters escaped (`"\n"`), so a newline or tab in a message is seen.
    let quote (text: string) : string = Text.Json.JsonSerializer.Serialize(text, relaxed)
