namespace RnnAd.Examples.Datasets

open RnnAd.FSharp.Data

/// The sentiment of a review; its integer value is the class id a model predicts.
type Sentiment =
    | Negative = 0
    | Positive = 1

/// One review: its file name in the IMDB layout (e.g. `0_3.txt`), its text and its sentiment.
type Review = { Name: string; Text: string; Sentiment: Sentiment }

/// Reviews split as IMDB splits them; in each split the negative reviews come first, then the positive.
type ReviewSet = { Train: Review[]; Test: Review[] }

/// From reviews to words, vocabularies and classification examples (seed 003).
[<RequireQualifiedAccess>]
module Reviews =

    /// The words of a review (`Tokenize.words`).
    let words (review: Review) : string[] = Tokenize.words review.Text

    /// A word vocabulary of reviews (typically the training split) by `Vocab.build`.
    let vocabulary (options: VocabOptions) (reviews: Review[]) : Vocab =
        if isNull reviews then nullArg "reviews"
        Vocab.build options (reviews |> Seq.map words)

    /// Classification examples: each review's words encoded (unknown words become `<unk>` if the vocabulary
    /// has it, else raise), cut to the first `maxLength` words when given (torchtext's `fix_length` without
    /// the padding, which batching adds), labelled with the sentiment's value. A review without words raises
    /// naming it.
    let examples (vocabulary: Vocab) (maxLength: int option) (reviews: Review[]) : ClassificationExample[] =
        if isNull reviews then nullArg "reviews"
        match maxLength with
        | Some m when m <= 0 -> invalidArg "maxLength" (sprintf "the maximum length must be positive, got %d" m)
        | _ -> ()
        reviews |> Array.map (fun review ->
            if review.Sentiment <> Sentiment.Negative && review.Sentiment <> Sentiment.Positive then
                invalidArg "reviews" (sprintf "review '%s' has sentiment %d, expected 0 (negative) or 1 (positive)" review.Name (int review.Sentiment))
            let ws = words review
            if ws.Length = 0 then invalidArg "reviews" (sprintf "review '%s' has no words" review.Name)
            let kept = match maxLength with Some m when m < ws.Length -> Array.take m ws | _ -> ws
            if vocabulary.UnknownId.IsNone then
                kept |> Array.iteri (fun i w ->
                    if (vocabulary.TryId w).IsNone then
                        invalidArg "reviews" (sprintf "word '%s' at position %d of review '%s' is not in the vocabulary (no %s)" w i review.Name Vocab.UnknownToken))
            { Tokens = Vocab.encode vocabulary kept; Label = int review.Sentiment })
