module RnnAd.FSharp.Tests.Examples.Datasets.SyntheticReviewsTests

open System.Text.RegularExpressions
open Expecto
open RnnAd.FSharp.Data
open RnnAd.FSharp.Tests
open RnnAd.Examples.Datasets

// Opinion words of the generator, typed out again here so the readers below do not use the generator's lists.
let private positiveWords =
    set [ "good"; "great"; "excellent"; "wonderful"; "brilliant"; "superb"; "enjoyable"; "moving"; "beautiful"; "funny"; "clever"; "gripping"
          "loved"; "love"; "enjoyed"; "enjoy"; "liked"; "like"; "admired"; "admire" ]

let private negativeWords =
    set [ "bad"; "terrible"; "awful"; "boring"; "dull"; "poor"; "weak"; "painful"; "stupid"; "bland"; "messy"; "forgettable"
          "hated"; "hate"; "disliked"; "dislike"; "regretted"; "regret"; "resented"; "resent" ]

let private polarity (word: string) = if positiveWords.Contains word then 1 elif negativeWords.Contains word then -1 else 0

/// Reads sentence by sentence, flipping an opinion when its sentence holds a negation.
let private readsNegations (review: Review) =
    Regex.Split(review.Text, @"[.!]|<br />")
    |> Array.sumBy (fun sentence ->
        let words = Tokenize.words sentence
        let negated = words |> Array.exists (fun w -> w = "not" || w = "never" || w.EndsWith "n't")
        let score = words |> Array.sumBy polarity
        if negated then -score else score)
    |> fun score -> if score > 0 then Sentiment.Positive else Sentiment.Negative

/// Counts opinion words, blind to negation.
let private countsWords (review: Review) =
    if Reviews.words review |> Array.sumBy polarity > 0 then Sentiment.Positive else Sentiment.Negative

let private accuracy (read: Review -> Sentiment) (reviews: Review[]) =
    float (reviews |> Array.filter (fun r -> read r = r.Sentiment) |> Array.length) / float reviews.Length

[<Tests>]
let tests =
    testList "Examples/datasets/synthetic reviews" [
        test "the same seed gives the same reviews; another seed other reviews" {
            let a = SyntheticReviews.generate 17 30 10
            Expect.equal (SyntheticReviews.generate 17 30 10) a "same seed"
            let b = SyntheticReviews.generate 18 30 10
            Expect.notEqual (b.Train |> Array.map (fun r -> r.Text)) (a.Train |> Array.map (fun r -> r.Text)) "another seed"
        }
        test "balanced: n negatives then n positives in each split" {
            let set = SyntheticReviews.generate 1 25 7
            let sentiments (rs: Review[]) = rs |> Array.map (fun r -> r.Sentiment)
            Expect.equal (sentiments set.Train) (Array.append (Array.create 25 Sentiment.Negative) (Array.create 25 Sentiment.Positive)) "train"
            Expect.equal (sentiments set.Test) (Array.append (Array.create 7 Sentiment.Negative) (Array.create 7 Sentiment.Positive)) "test"
        }
        test "each review has its own seed: other counts keep the reviews they share" {
            let small, large = SyntheticReviews.generate 5 3 2, SyntheticReviews.generate 5 6 9
            Expect.equal small.Train.[0..2] large.Train.[0..2] "negatives"
            Expect.equal small.Train.[3..5] large.Train.[6..8] "positives"
            Expect.equal small.Test.[0..1] large.Test.[0..1] "test negatives"
        }
        test "IMDB-style names: zero-padded ids in generation order, ratings 1–4 negative and 7–10 positive" {
            let set = SyntheticReviews.generate 2 12 3
            for r in Array.append set.Train set.Test do
                let m = Regex.Match(r.Name, @"^(\d{5})_(\d+)\.txt$")
                Expect.isTrue m.Success (sprintf "name %s" r.Name)
                let rating = int m.Groups.[2].Value
                if r.Sentiment = Sentiment.Positive then Expect.isTrue (rating >= 7 && rating <= 10) (sprintf "rating of %s" r.Name)
                else Expect.isTrue (rating >= 1 && rating <= 4) (sprintf "rating of %s" r.Name)
            let negatives = set.Train.[0..11] |> Array.map (fun r -> r.Name)
            Expect.equal negatives (Array.sortWith (fun a b -> System.String.CompareOrdinal(a, b)) negatives) "ordinal order is generation order"
            Expect.equal (negatives |> Array.map (fun n -> n.[0..4])) (Array.init 12 (sprintf "%05d")) "ids"
        }
        test "learnable but not trivial: reading negations decides every review, counting words does not" {
            let set = SyntheticReviews.generate 9 200 1
            Expect.equal (accuracy readsNegations set.Train) 1.0 "a reader of negations is always right"
            let bag = accuracy countsWords set.Train
            // About a third of the opinions are negated, so a negation-blind count must miss a visible share.
            Expect.isTrue (bag > 0.6 && bag < 0.95) (sprintf "a word counter's accuracy %.3f is between chance and perfect" bag)
            let negatedWords = set.Train |> Array.filter (fun r -> Reviews.words r |> Array.exists (fun w -> w = "not" || w = "never" || w.EndsWith "n't"))
            Expect.isTrue (negatedWords.Length > 100) "many reviews hold a negation"
        }
        test "reviews look like IMDB's: some HTML line breaks, which the tokenizer drops" {
            let set = SyntheticReviews.generate 4 50 1
            Expect.isTrue (set.Train |> Array.exists (fun r -> r.Text.Contains "<br /><br />")) "line breaks"
            Expect.isFalse (set.Train |> Array.exists (fun r -> Reviews.words r |> Array.contains "br")) "no word br"
        }
        test "counts below one raise naming the argument" {
            Check.throwsWith [ "trainPerClass"; "got 0" ] (fun () -> SyntheticReviews.generate 1 0 1)
            Check.throwsWith [ "testPerClass"; "got -2" ] (fun () -> SyntheticReviews.generate 1 1 -2)
        }
    ]
