namespace RnnAd.Cli

open System
open System.Globalization
open System.Threading
open Argu
open RnnAd.FSharp
open RnnAd.FSharp.Data

/// `rnnad evaluate`: how well a character model saved by `rnnad train` predicts a text. The text is cut into
/// consecutive windows, each read from a fresh state as training reads them, so every character but the first is
/// predicted once from the characters before it in its window.
[<RequireQualifiedAccess>]
module EvaluateCommand =

    /// The window a model was trained with, from its checkpoint's record of `rnnad train`'s options.
    let private trainedWindow (model: ModelCheckpoint) : int option =
        model.Metadata.TryFind TrainCommand.optionsKey
        |> Option.bind (fun options ->
            options.Split("; ") |> Array.tryPick (fun entry ->
                match entry.Split('=', 2) with
                | [| "window"; value |] ->
                    match Int32.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture) with
                    | true, w when w > 0 -> Some w
                    | _ -> None
                | _ -> None))

    /// Scores as the options say; returns the exit code.
    let run (t: Terminal) (_: CancellationToken) (args: ParseResults<EvaluateArgs>) : int =
        let path = args.GetResult(EvaluateArgs.Model, "rnnad-model.safetensors")
        if String.IsNullOrWhiteSpace path then Options.fail "--model must name a checkpoint file"
        let batchSize = Options.positive "--batch-size" (args.GetResult(EvaluateArgs.Batch_Size, 32))
        let model = Checkpoint.load path
        let vocabulary = SampleCommand.characterVocabulary path model
        if model.Spec.Head <> HeadKind.PerStep || model.Spec.Bidirectional then
            raise (CommandFailedException(sprintf "checkpoint '%s' holds a %s model, not a character language model" path (TrainCommand.describeModel model.Spec)))
        let source, text =
            match args.TryGetResult EvaluateArgs.Text with
            | Some file -> sprintf "'%s'" file, TextFile.read file
            | None -> DefaultText.description, DefaultText.read ()
        let characters = Tokenize.characters text
        let window =
            match args.TryGetResult EvaluateArgs.Window with
            | Some w -> Options.positive "--window" w
            | None -> defaultArg (trainedWindow model) 32
        if int64 window + 1L > int64 characters.Length then
            Options.fail (sprintf "--window %d is too long for %s: it holds %d characters, so a window can hold at most %d (plus the character after it)"
                            window source characters.Length (characters.Length - 1))
        let ids =
            match characters |> Array.tryFindIndex (fun c -> (vocabulary.TryId c).IsNone) with
            | Some i ->
                raise (CommandFailedException(
                    sprintf "the character %s at position %d of %s is not in the model's vocabulary of %d characters, so the model cannot score it"
                        (Options.quote characters.[i]) i source vocabulary.Count))
            | None -> Vocab.encode vocabulary characters
        let windows = Windows.strided window window ids
        let m = Evaluation.metrics (SequenceModel.model model.Spec) model.Parameters (Batching.inOrder batchSize Batching.languageModel windows)
        let count (n: float) = n.ToString("N0", CultureInfo.InvariantCulture)
        Terminal.heading t (sprintf "rnnad evaluate: '%s' on %s" path source)
        Terminal.line t (sprintf "  model  %s" (TrainCommand.describeModel model.Spec))
        Terminal.line t (sprintf "  text   %s characters in %d windows of %d, each from a fresh state" (count (float characters.Length)) windows.Length window)
        Terminal.line t
            (sprintf "loss %s  perplexity %s  bits per character %s  accuracy %s  (%s characters predicted)"
                (Options.number 4 m.Loss) (Options.number 2 m.Perplexity) (Options.number 3 m.BitsPerCharacter) (Options.number 3 m.Accuracy) (count m.Count))
        Terminal.line t
            (sprintf "guessing uniformly among its %d characters scores %s bits per character." vocabulary.Count (Options.number 3 (Math.Log2(float vocabulary.Count))))
        0
