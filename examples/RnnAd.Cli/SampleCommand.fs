namespace RnnAd.Cli

open System
open System.IO
open System.Threading
open Argu
open RnnAd.FSharp
open RnnAd.FSharp.Data

/// `rnnad sample`: text from a character model saved by `rnnad train`. Standard output gets the prompt and
/// its continuation and nothing else, so the text can be piped.
[<RequireQualifiedAccess>]
module SampleCommand =

    /// Whether a token is one character (one text element), as `rnnad train`'s vocabularies hold.
    let private isCharacter (token: string) = (Tokenize.characters token).Length = 1

    /// The vocabulary of a character model loaded from `path`; raises InvalidDataException naming the file when the
    /// checkpoint has no vocabulary or one that is not of single characters, as `rnnad train` writes them.
    let characterVocabulary (path: string) (model: ModelCheckpoint) : Vocab =
        let tokens =
            match model.Vocabulary with
            | Some tokens -> tokens
            | None -> raise (InvalidDataException(sprintf "checkpoint '%s' holds no vocabulary, so its ids cannot be turned into text" path))
        match tokens |> Array.tryFindIndex (isCharacter >> not) with
        | Some id ->
            let token = if tokens.[id] = "" then sprintf "an empty token (id %d)" id else sprintf "the multi-character token %s" (Options.quote tokens.[id])
            raise (InvalidDataException(
                sprintf "checkpoint '%s' holds a vocabulary with %s; rnnad sample and rnnad evaluate read character models such as rnnad train writes" path token))
        | None -> ()
        Vocab.ofTokens tokens

    /// Generates as the options say; returns the exit code.
    let run (t: Terminal) (_: CancellationToken) (args: ParseResults<SampleArgs>) : int =
        let path = args.GetResult(SampleArgs.Model, "rnnad-model.safetensors")
        let length = Limits.generated "--length" (args.GetResult(SampleArgs.Length, 200))
        let sampling =
            { Temperature = Options.nonNegativeNumber "--temperature" (args.GetResult(SampleArgs.Temperature, 0.8))
              TopK = args.TryGetResult SampleArgs.Top_K |> Option.map (Options.positive "--top-k")
              Seed = args.GetResult(SampleArgs.Seed, 0) }
        if String.IsNullOrWhiteSpace path then Options.fail "--model must name a checkpoint file"
        let model = Checkpoint.load path
        let vocabulary = characterVocabulary path model
        // Vocab.build orders by frequency, so id 0 is the training text's most frequent character.
        let prompt = args.GetResult(SampleArgs.Prompt, vocabulary.Token 0)
        let characters = Tokenize.characters prompt
        if characters.Length = 0 then Options.fail "--prompt must hold at least one character"
        match characters |> Array.tryFindIndex (fun c -> (vocabulary.TryId c).IsNone) with
        | Some i ->
            Options.fail (sprintf "--prompt: the character %s at position %d is not in the model's vocabulary of %d characters" (Options.quote characters.[i]) i vocabulary.Count)
        | None -> ()
        let generated = Generation.sample (SequenceModel.model model.Spec) model.Parameters (Vocab.encode vocabulary characters) length sampling
        t.Out.WriteLine(prompt + String.Concat(Vocab.decode vocabulary generated))
        0
