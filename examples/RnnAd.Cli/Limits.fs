namespace RnnAd.Cli

open System
open System.Globalization
open RnnAd.FSharp

/// How each size of a model is named in messages: the option and value the user gave ("--hidden 128"), or
/// where the size came from ("53 outputs (the text's distinct characters)").
type ModelOptions =
    { /// The hidden size.
      Hidden: string
      /// The number of stacked layers.
      Layers: string
      /// The width of the first layer's input (embedding, one-hot vocabulary or features).
      Input: string
      /// The head's outputs.
      Outputs: string }

/// Sizes the commands accept, checked before any work: a size no array or no memory here can hold is refused
/// with one line naming the option, instead of an out-of-memory error (or a silent wrap-around) later. Every
/// count is computed in floating point, which cannot overflow.
[<RequireQualifiedAccess>]
module Limits =

    /// The most characters one command generates (`rnnad sample --length`, `rnnad train --sample-length`).
    let maxGenerated = 10_000_000

    /// The most updates one training run makes: its loss curve keeps every update's loss.
    let maxUpdates = 10_000_000L

    /// Bytes per parameter while training: the parameter, its gradient, two optimizer buffers (Adam), the
    /// updated copy and one spare for clipping and checkpoints.
    let private bytesPerParameter = 48.0

    let private thousands (n: float) = n.ToString("N0", CultureInfo.InvariantCulture)

    /// A byte count for people: "3.2 GB", "410 MB".
    let private bytes (n: float) =
        if n >= 1e9 then (n / 1e9).ToString("N1", CultureInfo.InvariantCulture) + " GB"
        else (n / 1e6).ToString("N0", CultureInfo.InvariantCulture) + " MB"

    /// A length to generate, 0 to `maxGenerated`.
    let generated (option: string) (value: int) : int =
        let value = Options.nonNegative option value
        if value > maxGenerated then
            Options.fail (sprintf "%s %d is more than the %s characters one run generates" option value (thousands (float maxGenerated)))
        value

    /// The memory this process may use: the machine's, or the container's or the GC's limit when lower.
    let available () : float = float (GC.GetGCMemoryInfo().TotalAvailableMemoryBytes)

    /// Raises CommandFailedException unless `needed` bytes fit in the memory available; `what` says what needs
    /// them and `advice` what to change.
    let requireMemory (what: string) (needed: float) (advice: string) : unit =
        let have = available ()
        if needed > have then
            raise (CommandFailedException(sprintf "%s needs about %s, more than the %s this process may use; %s" what (bytes needed) (bytes have) advice))

    /// The gate blocks a cell's weights stack (1, 4 or 3 for the built-in cells); a custom cell, whose layout
    /// is its own, counts as an LSTM's four so that estimates err on the large side.
    let gates (cell: Cell) : int = match Cells.tryBuiltIn cell with Some b -> b.Kind.Gates | None -> 4

    /// The tensors of a model as (name, rows, columns, which sizes set them), in floating point: the same
    /// shapes `SequenceModel.expectedShapes` gives, but never overflowing, and one entry per kind of tensor
    /// with the number of its copies.
    let private tensors (spec: ModelSpec) (names: ModelOptions) : (string * float * float * float * string) list =
        let directions = if spec.Bidirectional then 2.0 else 1.0
        let hidden, layers = float spec.HiddenSize, float spec.Layers
        let rows = float (gates spec.Cell) * hidden
        let input, inputNamed =
            match spec.Input with
            | InputEncoding.Embedding (_, d) -> float d, names.Input
            | InputEncoding.OneHot v -> float v, names.Input
            | InputEncoding.Features f -> float f, names.Input
        let head = List.map float spec.HeadHidden @ [ float spec.Outputs ]
        let headInputs = hidden * directions :: List.map float spec.HeadHidden
        [ match spec.Input with
          | InputEncoding.Embedding (v, d) -> "embedding.weight", float v, float d, 1.0, names.Input
          | _ -> ()
          "rnn.weight_ih_l0", rows, input, directions, sprintf "%s and %s" names.Hidden inputNamed
          "rnn.weight_ih_l1", rows, hidden * directions, directions * (layers - 1.0), sprintf "%s and %s" names.Hidden names.Layers
          "rnn.weight_hh_l0", rows, hidden, directions * layers, sprintf "%s and %s" names.Hidden names.Layers
          "rnn.bias_ih_l0 and rnn.bias_hh_l0", rows, 1.0, 2.0 * directions * layers, sprintf "%s and %s" names.Hidden names.Layers
          for outputs, inputs in List.zip head headInputs do
              "fc.weight", outputs, inputs, 1.0, sprintf "%s and %s" names.Hidden names.Outputs
              "fc.bias", outputs, 1.0, 1.0, names.Outputs ]

    /// The number of parameters of a model, in floating point.
    let parameters (spec: ModelSpec) (names: ModelOptions) : float =
        tensors spec names |> List.sumBy (fun (_, rows, columns, copies, _) -> rows * columns * copies)

    /// Refuses (usage error, naming the options at fault) a model no array can hold: a gate count over int's
    /// range or a tensor of more values than one array holds. Then (command failed) one that cannot do `work`
    /// ("training on batches of ...") in the memory this process may use, with `extra` bytes needed beside
    /// its parameters (data, the batches' traces); `advice` says which options to lower.
    let checkModel (spec: ModelSpec) (names: ModelOptions) (work: string) (extra: float) (advice: string) : unit =
        let rows = float (gates spec.Cell) * float spec.HiddenSize
        if rows > float Int32.MaxValue then
            Options.fail (sprintf "%s gives %s %s gate rows per layer, more than %s" names.Hidden spec.Cell.Name (thousands rows) (thousands (float Int32.MaxValue)))
        for name, rows, columns, copies, setBy in tensors spec names do
            if copies > 0.0 && rows * columns > float Array.MaxLength then
                Options.fail (sprintf "%s would hold %s × %s values (set by %s), more than one array holds (%s)"
                                name (thousands rows) (thousands columns) setBy (thousands (float Array.MaxLength)))
        let count = parameters spec names
        requireMemory
            (sprintf "%s with the model (%s, %s, %s, %s: %s parameters)" work names.Hidden names.Layers names.Input names.Outputs (thousands count))
            (count * bytesPerParameter + extra) advice
