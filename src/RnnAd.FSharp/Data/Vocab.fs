namespace RnnAd.FSharp.Data

open System
open System.Collections.Generic

/// How `Vocab.build` chooses its tokens.
type VocabOptions =
    { /// Include the unknown token `<unk>`, to which tokens outside the vocabulary encode.
      Unknown: bool
      /// Include the padding token `<pad>` as id 0, so padded batches are zeros.
      Padding: bool
      /// The most ordinary tokens kept (the special tokens are not counted, as torchtext's `max_size`:
      /// 10000 words with `<unk>` and `<pad>` make 10002 entries); None keeps all.
      MaxSize: int option
      /// Tokens seen fewer times than this are left out (torchtext's `min_freq`); at least 1.
      MinFrequency: int }

    /// No special tokens, no size limit, every token seen at least once (a character vocabulary, seed 002).
    static member Default = { Unknown = false; Padding = false; MaxSize = None; MinFrequency = 1 }

/// An immutable bidirectional map between tokens and ids 0 … Count − 1. The special tokens come first:
/// `<pad>` (always id 0 when present), then `<unk>`; then the ordinary tokens.
[<Sealed>]
type Vocab private (tokens: string[], ids: IReadOnlyDictionary<string, int>) =

    /// The padding token's spelling.
    static member PaddingToken = "<pad>"

    /// The unknown token's spelling.
    static member UnknownToken = "<unk>"

    /// Raises naming the token by `where` unless it is a non-empty, well-formed UTF-16 string: a lone
    /// surrogate could be neither saved with a model nor printed, so it is refused where it is given.
    static member internal CheckToken (argument: string) (where: string) (token: string) : unit =
        if String.IsNullOrEmpty token then invalidArg argument (sprintf "%s is null or empty" where)
        match Tokenize.firstLoneSurrogate token with
        | -1 -> ()
        | i ->
            invalidArg argument (sprintf "%s is not well-formed UTF-16 text: it holds a lone surrogate U+%04X at index %d" where (int token.[i]) i)

    /// A vocabulary holding exactly `tokens` with ids in their order; `<pad>` must be first when present.
    /// Raises naming the token and its positions when a token is null, empty, repeated or not well-formed
    /// UTF-16 (a lone surrogate).
    static member OfTokens(tokens: string[]) : Vocab =
        if isNull tokens then nullArg "tokens"
        if tokens.Length = 0 then invalidArg "tokens" "a vocabulary needs at least one token, got none"
        let ids = Dictionary<string, int>(StringComparer.Ordinal)
        tokens |> Array.iteri (fun i token ->
            Vocab.CheckToken "tokens" (sprintf "token %d" i) token
            match ids.TryGetValue token with
            | true, j -> invalidArg "tokens" (sprintf "token '%s' appears twice, at ids %d and %d" token j i)
            | _ -> ids.[token] <- i)
        match ids.TryGetValue Vocab.PaddingToken with
        | true, i when i <> 0 -> invalidArg "tokens" (sprintf "the padding token %s must have id 0, it is at id %d" Vocab.PaddingToken i)
        | _ -> ()
        Vocab(Array.copy tokens, ids)

    /// The number of tokens (the model's vocabulary size).
    member _.Count: int = tokens.Length

    /// Every token in id order (a copy).
    member _.Tokens: string[] = Array.copy tokens

    /// The id of `<pad>` (0), if the vocabulary has one.
    member _.PaddingId: int option = if ids.ContainsKey Vocab.PaddingToken then Some 0 else None

    /// The id of `<unk>`, if the vocabulary has one.
    member _.UnknownId: int option =
        match ids.TryGetValue Vocab.UnknownToken with
        | true, i -> Some i
        | _ -> None

    /// The id of a token, if it is in the vocabulary (no mapping to `<unk>`); raises ArgumentNullException
    /// for a null token.
    member _.TryId(token: string) : int option =
        if isNull token then raise (ArgumentNullException("token", "the token to look up is null"))
        match ids.TryGetValue token with
        | true, i -> Some i
        | _ -> None

    /// The token of an id; raises naming the id and the vocabulary size when out of range.
    member _.Token(id: int) : string =
        if id < 0 || id >= tokens.Length then
            invalidArg "id" (sprintf "id %d is outside the vocabulary [0, %d)" id tokens.Length)
        tokens.[id]

/// Building vocabularies from token sequences, and encoding and decoding with them.
[<RequireQualifiedAccess>]
module Vocab =

    /// A vocabulary of the tokens in `sequences`, in a deterministic order: `<pad>` and `<unk>` first (as
    /// `options` asks), then the tokens seen at least `MinFrequency` times by descending frequency, ties in
    /// ordinal string order, the first `MaxSize` of them. `<pad>` and `<unk>` are reserved: occurrences in
    /// the text are not counted as ordinary tokens, so `ofTokens v.Tokens` always gives `v` back. Raises naming
    /// the token's position when one is null, empty or not well-formed UTF-16 (a lone surrogate).
    let build (options: VocabOptions) (sequences: seq<string[]>) : Vocab =
        if isNull (box options) then nullArg "options"
        if isNull (box sequences) then nullArg "sequences"
        if options.MinFrequency < 1 then invalidArg "options" (sprintf "MinFrequency must be at least 1, got %d" options.MinFrequency)
        match options.MaxSize with
        | Some m when m < 0 -> invalidArg "options" (sprintf "MaxSize must be non-negative, got %d" m)
        | _ -> ()
        let counts = Dictionary<string, int>(StringComparer.Ordinal)
        sequences |> Seq.iteri (fun s tokens ->
            if isNull tokens then invalidArg "sequences" (sprintf "sequence %d is null" s)
            tokens |> Array.iteri (fun i token ->
                Vocab.CheckToken "sequences" (sprintf "token %d of sequence %d" i s) token
                if token <> Vocab.PaddingToken && token <> Vocab.UnknownToken then
                    counts.[token] <- (match counts.TryGetValue token with | true, c -> c + 1 | _ -> 1)))
        let ordinary =
            counts
            |> Seq.filter (fun kv -> kv.Value >= options.MinFrequency)
            |> Seq.map (fun kv -> kv.Key, kv.Value)
            |> Array.ofSeq
            |> Array.sortWith (fun (a, ca) (b, cb) -> if ca <> cb then compare cb ca else String.CompareOrdinal(a, b))
            |> Array.map fst
        let kept = match options.MaxSize with Some m when m < ordinary.Length -> Array.take m ordinary | _ -> ordinary
        let tokens =
            [| if options.Padding then Vocab.PaddingToken
               if options.Unknown then Vocab.UnknownToken
               yield! kept |]
        if tokens.Length = 0 then
            invalidArg "sequences" (sprintf "no token occurs at least %d times and no special token is asked for: the vocabulary would be empty" options.MinFrequency)
        Vocab.OfTokens tokens

    /// A vocabulary holding exactly `tokens` in id order (e.g. read back from a checkpoint); see `Vocab.OfTokens`.
    let ofTokens (tokens: string[]) : Vocab = Vocab.OfTokens tokens

    /// The ids of tokens. A token outside the vocabulary encodes to `<unk>` when there is one; otherwise it
    /// raises naming the token and its position.
    let encode (vocabulary: Vocab) (tokens: string[]) : int[] =
        if isNull (box vocabulary) then nullArg "vocabulary"
        if isNull tokens then nullArg "tokens"
        tokens |> Array.mapi (fun i token ->
            if isNull token then invalidArg "tokens" (sprintf "token %d is null" i)
            match vocabulary.TryId token, vocabulary.UnknownId with
            | Some id, _ -> id
            | None, Some unk -> unk
            | None, None ->
                invalidArg "tokens" (sprintf "token '%s' at position %d is not in the vocabulary (%d tokens, no %s)" token i vocabulary.Count Vocab.UnknownToken))

    /// The tokens of ids; raises naming the id and its position when an id is outside the vocabulary.
    let decode (vocabulary: Vocab) (ids: int[]) : string[] =
        if isNull (box vocabulary) then nullArg "vocabulary"
        if isNull ids then nullArg "ids"
        ids |> Array.mapi (fun i id ->
            if id < 0 || id >= vocabulary.Count then
                invalidArg "ids" (sprintf "id %d at position %d is outside the vocabulary [0, %d)" id i vocabulary.Count)
            vocabulary.Token id)
