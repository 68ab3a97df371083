module RnnAd.FSharp.Tests.Examples.Datasets.ReviewsTests

open Expecto
open RnnAd.FSharp.Data
open RnnAd.FSharp.Tests
open RnnAd.Examples.Datasets

// Words by hand: "0_1.txt" → bad bad film not good; "0_9.txt" → good film good good.
// Counts: good 4, bad 2, film 2, not 1; so the vocabulary is <pad> <unk> good bad film not (bad < film
// ordinally), ids good 2, bad 3, film 4, not 5.
let private negative = { Name = "0_1.txt"; Text = "Bad, bad film.<br />Not good."; Sentiment = Sentiment.Negative }
let private positive = { Name = "0_9.txt"; Text = "Good film! Good, good."; Sentiment = Sentiment.Positive }
let private reviews = [| negative; positive |]
let private options = { VocabOptions.Default with Unknown = true; Padding = true }

[<Tests>]
let tests =
    testList "Examples/datasets/reviews" [
        test "the word vocabulary of reviews" {
            Expect.equal (Reviews.vocabulary options reviews).Tokens [| "<pad>"; "<unk>"; "good"; "bad"; "film"; "not" |] "tokens"
        }
        test "examples: encoded words labelled 0 for negative and 1 for positive" {
            let v = Reviews.vocabulary options reviews
            Expect.equal (Reviews.examples v None reviews) [| { Tokens = [| 3; 3; 4; 5; 2 |]; Label = 0 }; { Tokens = [| 2; 4; 2; 2 |]; Label = 1 } |] "examples"
        }
        test "examples cut to the first maxLength words" {
            let v = Reviews.vocabulary options reviews
            Expect.equal (Reviews.examples v (Some 3) reviews |> Array.map (fun e -> e.Tokens)) [| [| 3; 3; 4 |]; [| 2; 4; 2 |] |] "first three"
            Check.throwsWith [ "maximum length"; "got 0" ] (fun () -> Reviews.examples v (Some 0) reviews)
        }
        test "rare words become <unk>" {
            let v = Reviews.vocabulary { options with MinFrequency = 2 } reviews
            Expect.equal (Reviews.examples v None [| negative |]).[0].Tokens [| 3; 3; 4; 1; 2 |] "'not' is unknown"
        }
        test "without <unk> an unknown word raises naming it, its position and the review" {
            let v = Reviews.vocabulary VocabOptions.Default [| positive |]
            Check.throwsWith [ "'bad'"; "position 0"; "'0_1.txt'" ] (fun () -> Reviews.examples v None reviews)
        }
        test "a review without words raises naming it" {
            let v = Reviews.vocabulary options reviews
            Check.throwsWith [ "'empty.txt'"; "no words" ] (fun () ->
                Reviews.examples v None [| { Name = "empty.txt"; Text = "?!<br />..."; Sentiment = Sentiment.Positive } |])
        }
    ]
