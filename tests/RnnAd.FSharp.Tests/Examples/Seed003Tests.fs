module RnnAd.FSharp.Tests.Examples.Seed003Tests

open System
open System.IO
open Expecto
open RnnAd.Examples
open RnnAd.FSharp.Data
open RnnAd.FSharp.Tests.Examples.ExampleSupport
open RnnAd.Examples.Datasets

let private models = [ "rnncell-mlp"; "rnn"; "lstm"; "gru"; "bilstm" ]

/// Quick mode's epochs (a property of the example the tests pin, so a change to it is a visible decision).
let private quickEpochs = 2

/// The checks every run must pass, whatever its data: pictures, and every model's numbers present and sane.
let private checkRun (directory: string) (testReviews: int) (result: ExampleResult) =
    Expect.equal (result.Files |> List.map Path.GetFileName) [ "seed003-accuracy.png"; "seed003-memory.png"; "seed003-confusion.png" ] "the pictures written"
    // The 2 × 2 confusion heat map is the smallest picture: Plotting draws it 448 × 180.
    checkPictures directory result.Files 400 150
    let fraction what (v: float) = Expect.isTrue (v >= 0.0 && v <= 1.0) (sprintf "%s = %g is a fraction" what v)
    let finite what (v: float) = Expect.isTrue (Double.IsFinite v && v >= 0.0) (sprintf "%s = %g is a finite non-negative loss" what v)
    Expect.equal (metric result "classes") 2.0 "negative and positive"
    for m in models do
        for epoch in 1 .. quickEpochs do
            finite (sprintf "%s epoch %d train loss" m epoch) (metric result (sprintf "%s.epoch%d.trainLoss" m epoch))
            finite (sprintf "%s epoch %d valid loss" m epoch) (metric result (sprintf "%s.epoch%d.validLoss" m epoch))
            fraction (sprintf "%s epoch %d valid accuracy" m epoch) (metric result (sprintf "%s.epoch%d.validAccuracy" m epoch))
        Expect.isFalse (result.Metrics.ContainsKey(sprintf "%s.epoch%d.trainLoss" m (quickEpochs + 1))) (sprintf "%s: no epoch beyond the last" m)
        fraction (m + " test accuracy") (metric result (m + ".testAccuracy"))
        finite (m + " test loss") (metric result (m + ".testLoss"))
        Expect.isGreaterThan (metric result (m + ".parameters")) 0.0 (m + " has parameters")
        // Quick mode's memory probe appends 0 and 10 neutral words; with none appended it is the test accuracy
        // itself, from the same forward passes (so exactly equal).
        Expect.equal (metric result (m + ".filler0.accuracy")) (metric result (m + ".testAccuracy")) (m + ": no filler, the test accuracy")
        fraction (m + " accuracy with 10 neutral words appended") (metric result (m + ".filler10.accuracy"))
        // Every test review lands in exactly one cell of the confusion matrix, and the diagonal is the accuracy
        // (the accuracy is a ratio of the same integers: 1e-12 leaves room for the division's rounding only).
        let cell t p = metric result (sprintf "%s.confusion.%s.%s" m t p)
        let cells = [ for t in [ "negative"; "positive" ] do for p in [ "negative"; "positive" ] -> cell t p ]
        Expect.equal (List.sum cells) (float testReviews) (m + ": the confusion matrix counts every test review once")
        Expect.floatClose { absolute = 1e-12; relative = 0.0 } ((cell "negative" "negative" + cell "positive" "positive") / float testReviews)
            (metric result (m + ".testAccuracy")) (m + ": the diagonal of the confusion matrix is the accuracy")
    // The seed's cells written out by hand compute the library's model: both sum the same products, only the
    // grouping of a few additions may differ, each rounding by at most half an ulp of values below ~10, so 1e-12
    // is far above rounding and far below any real difference.
    for m in [ "rnncell-mlp"; "lstm"; "gru" ] do
        Expect.isLessThan (metric result (m + ".seedGap")) 1e-12 (m + ": the seed's hand-written cell agrees with RnnAd's")
    // ‖∂L/∂h_first‖ / ‖∂L/∂h_last‖: a ratio of norms, positive and finite unless the gradient vanished entirely.
    for m in [ "rnncell-mlp"; "rnn"; "lstm"; "gru" ] do
        for stage in [ "initial"; "trained" ] do
            let r = metric result (sprintf "%s.gradientReach.%s" m stage)
            Expect.isTrue (Double.IsFinite r && r > 0.0) (sprintf "%s: gradient reach %s = %g is a positive ratio" m stage r)

[<Tests>]
let tests =
    testList "Examples/seed 003" [
        test "quick mode on the synthetic reviews reports every model and writes valid pictures" {
            withFolder "seed003-quick" (fun directory ->
                let lines, result = runQuickIn Seed003.run directory None None
                // Quick mode generates 12 test reviews per class.
                checkRun directory 24 result
                Expect.equal (metric result "testReviews") 24.0 "12 synthetic test reviews per class"
                // 24 training reviews per class, one fifth held out for validation: 48 / 5 = 9 (integer division).
                Expect.equal (metric result "validReviews") 9.0 "the validation split"
                Expect.equal (metric result "trainReviews") 39.0 "the training split"
                Expect.isTrue (lines |> List.exists (fun l -> l.Contains "Quick mode")) "the report says it ran in quick mode"
                Expect.isTrue (lines |> List.exists (fun l -> l.Contains "confusion matrix")) "the report prints confusion matrices"
                Expect.isTrue (lines |> List.exists (fun l -> l.StartsWith "Comparison")) "the report compares the models"
                Expect.isTrue (lines |> List.exists (fun l -> l.StartsWith "Wrote 3 pictures")) "the report ends with what it wrote")
        }

        test "an IMDB-layout folder is read instead of the synthetic reviews" {
            withFolder "seed003-imdb" (fun root ->
                // A tiny IMDB folder: 6 training and 3 test reviews per class, written with the library's writer.
                let reviews = SyntheticReviews.generate 11 6 3
                Imdb.write (Path.Combine(root, "aclImdb")) reviews
                let output = Path.Combine(root, "out")
                let lines, result = runQuickIn Seed003.run output (Some(Path.Combine(root, "aclImdb"))) None
                checkRun output 6 result
                // 12 training reviews (fewer than the quick cap of 24 per class), 12 / 5 = 2 held out.
                Expect.equal (metric result "trainReviews") 10.0 "the training reviews read from the folder"
                Expect.equal (metric result "validReviews") 2.0 "the validation reviews held out of them"
                Expect.equal (metric result "testReviews") 6.0 "the test reviews read from the folder"
                Expect.isTrue (lines |> List.exists (fun l -> l.Contains "IMDB folder")) "the report names the IMDB folder")
        }

        test "a missing IMDB folder fails naming it" {
            withFolder "seed003-missing" (fun root ->
                let missing = Path.Combine(root, "no-such-imdb")
                let message =
                    try
                        runQuickIn Seed003.run (Path.Combine(root, "out")) (Some missing) None |> ignore
                        None
                    with :? DirectoryNotFoundException as e -> Some e.Message
                match message with
                | Some m -> Expect.stringContains m missing "the error names the folder"
                | None -> failtest "a missing IMDB folder was accepted")
        }

        test "the same seed gives the same numbers" {
            let numbers (result: ExampleResult) =
                result.Metrics |> Map.filter (fun k _ -> not (k = "seconds" || k.EndsWith ".seconds"))
            withFolder "seed003-a" (fun a ->
                withFolder "seed003-b" (fun b ->
                    let _, first = runQuickIn Seed003.run a None (Some 5)
                    let _, second = runQuickIn Seed003.run b None (Some 5)
                    Expect.equal (numbers second) (numbers first) "metrics of two runs"))
        }
    ]
