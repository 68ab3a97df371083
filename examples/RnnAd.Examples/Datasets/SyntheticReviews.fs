namespace RnnAd.Examples.Datasets

open System
open MathNet.Numerics.Random
open RnnAd.FSharp.Storage
open RnnAd.FSharp.Data

/// A small movie-review set generated from a seed, so the sentiment example (seed 003) runs without
/// downloading IMDB. A review mixes neutral sentences (plot, cast, when it was watched) with 1–4 opinions.
/// The opinions against the review's label are a strict minority, so every label is decidable; but about a
/// third of the opinions are negated ("the acting wasn't bad" is positive) and the opinion words are shared
/// by both classes, so counting words is not enough and a model must read the order.
[<RequireQualifiedAccess>]
module SyntheticReviews =

    let private positiveAdjectives =
        [| "good"; "great"; "excellent"; "wonderful"; "brilliant"; "superb"; "enjoyable"; "moving"; "beautiful"; "funny"; "clever"; "gripping" |]

    let private negativeAdjectives =
        [| "bad"; "terrible"; "awful"; "boring"; "dull"; "poor"; "weak"; "painful"; "stupid"; "bland"; "messy"; "forgettable" |]

    /// (past, base) forms, for "i loved it" and "i didn't love it".
    let private positiveVerbs = [| "loved", "love"; "enjoyed", "enjoy"; "liked", "like"; "admired", "admire" |]

    let private negativeVerbs = [| "hated", "hate"; "disliked", "dislike"; "regretted", "regret"; "resented", "resent" |]

    let private subjects =
        [| "the movie"; "the film"; "the plot"; "the acting"; "the story"; "the script"; "the ending"; "the soundtrack"
           "the cast"; "the dialogue"; "the direction"; "the pacing" |]

    let private intensifiers = [| ""; ""; ""; "really "; "very "; "quite "; "truly " |]

    let private verbObjects = [| "this movie"; "this film"; "it"; "the whole thing"; "every minute of it" |]

    let private neutralSentences =
        [| "i watched it last night"; "i watched it with my family"; "i saw it at the cinema on a rainy sunday"
           "the story follows a young couple in a small town"; "it takes place during the war"; "it lasts about two hours"
           "it was shot in black and white"; "the plot is based on a novel"; "the director also made three other films"
           "the film introduces several characters early on"; "the story moves between the past and the present"
           "my brother rented it on a whim"; "the lead actor plays a retired teacher"; "most scenes are set in a hospital" |]

    let private pick (rng: Random) (items: 'a[]) : 'a = items.[rng.Next items.Length]

    /// One opinion sentence whose meaning agrees with `positive`; when `negated`, it says so by negating a
    /// word of the opposite polarity.
    let private opinion (rng: Random) (positive: bool) (negated: bool) : string =
        let wordPositive = positive <> negated
        if rng.Next 2 = 0 then
            let adjective = pick rng (if wordPositive then positiveAdjectives else negativeAdjectives)
            let subject = pick rng subjects
            let copula = pick rng [| "was"; "is" |]
            if negated then sprintf "%s %s %s" subject (pick rng [| copula + " not"; copula + "n't"; copula + " never" |]) adjective
            else sprintf "%s %s %s%s" subject copula (pick rng intensifiers) adjective
        else
            let past, bare = pick rng (if wordPositive then positiveVerbs else negativeVerbs)
            let object = pick rng verbObjects
            if negated then
                match rng.Next 3 with
                | 0 -> sprintf "i did not %s %s" bare object
                | 1 -> sprintf "i didn't %s %s" bare object
                | _ -> sprintf "i never %s %s" past object
            else sprintf "i %s %s" past object

    /// The text of one review of the given sentiment.
    let private reviewText (rng: Random) (positive: bool) : string =
        let opinions = 1 + rng.Next 4
        let against = rng.Next((opinions - 1) / 2 + 1)
        let sentences =
            [| for k in 0 .. opinions - 1 do
                   opinion rng (if k < against then not positive else positive) (rng.NextDouble() < 0.3)
               for _ in 1 .. 1 + rng.Next 3 do
                   pick rng neutralSentences |]
        // Fisher–Yates, so the opinion against the label is not always first.
        for i in sentences.Length - 1 .. -1 .. 1 do
            let j = rng.Next(i + 1)
            let t = sentences.[i]
            sentences.[i] <- sentences.[j]
            sentences.[j] <- t
        let text = Text.StringBuilder()
        sentences |> Array.iteri (fun i s ->
            if i > 0 then text.Append(if rng.NextDouble() < 0.25 then "<br /><br />" else " ") |> ignore
            text.Append(Char.ToUpperInvariant s.[0]).Append(s, 1, s.Length - 1).Append(if rng.NextDouble() < 0.2 then "!" else ".") |> ignore)
        text.ToString()

    /// `count` reviews of one split and sentiment, named as IMDB names them (`<id>_<rating>.txt`, ratings 7–10
    /// positive and 1–4 negative) with ids zero-padded so ordinal order is generation order; each review from
    /// its own derived seed, so changing one count never changes the other classes' reviews.
    let private generateClass (seed: int) (split: string) (sentiment: Sentiment) (count: int) : Review[] =
        let positive = sentiment = Sentiment.Positive
        let label = sprintf "%s/%s" split (if positive then "pos" else "neg")
        let width = max 5 (string (count - 1)).Length
        Array.init count (fun i ->
            let rng = Xoshiro256StarStar(Seed.deriveIndexed seed label (int64 i), false)
            let rating = if positive then 7 + rng.Next 4 else 1 + rng.Next 4
            { Name = sprintf "%s_%d.txt" ((string i).PadLeft(width, '0')) rating
              Text = reviewText rng positive
              Sentiment = sentiment })

    /// A balanced review set from `seed`: `trainPerClass` negative then as many positive training reviews,
    /// and likewise `testPerClass` for the test split (each at least 1). The same seed gives the same
    /// reviews, bit for bit; `Imdb.write` stores them in the IMDB layout and `Imdb.load` reads them back.
    let generate (seed: int) (trainPerClass: int) (testPerClass: int) : ReviewSet =
        if trainPerClass < 1 then invalidArg "trainPerClass" (sprintf "at least one review per class is needed, got %d" trainPerClass)
        if testPerClass < 1 then invalidArg "testPerClass" (sprintf "at least one review per class is needed, got %d" testPerClass)
        let split name count =
            Array.append (generateClass seed name Sentiment.Negative count) (generateClass seed name Sentiment.Positive count)
        { Train = split "train" trainPerClass; Test = split "test" testPerClass }
