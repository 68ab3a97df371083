module RnnAd.FSharp.Tests.Examples.Seed000Tests

open System
open System.IO
open Expecto
open RnnAd.Examples
open RnnAd.FSharp.Tests.Examples.ExampleSupport

let private cases = [ "abc-h1"; "abcd-h1"; "abcd-h2"; "abcde-h3"; "AbAcAd-h2"; "AbAcAd-rnn" ]

[<Tests>]
let tests =
    testList "Examples/seed 000" [
        test "quick mode writes every picture as a PNG and reports sane metrics" {
            runQuick Seed000.run "seed000" None (fun directory lines result ->
                let expected =
                    [ for c in cases do
                        yield sprintf "seed000-%s-lines.png" c
                        yield sprintf "seed000-%s-heatmap.png" c
                      yield "seed000-loss.png" ]
                Expect.equal (result.Files |> List.map Path.GetFileName |> List.sort) (List.sort expected) "the pictures written"
                checkPictures directory result.Files 300 300

                let metric = metric result
                for c in cases do
                    let accuracy, confidence = metric (c + ".accuracy"), metric (c + ".confidence")
                    Expect.isTrue (accuracy >= 0.0 && accuracy <= 1.0) (sprintf "%s accuracy %g is a fraction" c accuracy)
                    Expect.isTrue (confidence > 0.0 && confidence < 1.0) (sprintf "%s mean probability %g lies in (0, 1)" c confidence)
                    // Even a few hundred Adam steps from PyTorch's initialisation lower a full-batch loss.
                    Expect.isLessThan (metric (c + ".loss")) (metric (c + ".initialLoss")) (sprintf "%s: training lowers the loss" c)
                // Worked out by hand: "AbAcAd" × 50 gives 299 steps; the 150 inputs 'A' are followed by b, c, d 50 times
                // each (at most 50 right), the 149 inputs b, c, d always by 'A' (all right): (149 + 50) / 299.
                Expect.floatClose Accuracy.veryHigh (metric "AbAcAd-h2.ceiling") (199.0 / 299.0) "the memoryless ceiling"
                // No network that sees one letter can beat the ceiling, however it was trained (1e-12: the two are
                // ratios of the same integers, computed in different orders).
                Expect.isLessThanOrEqual (metric "AbAcAd-h2.accuracy") (199.0 / 299.0 + 1e-12) "the feed-forward net stays under the ceiling"
                // The hand-folded RNN and SequenceModel compute the same model; SequenceModel's fused path adds the
                // biases and products in another order, so logits of size ~10 agree to a few ulps (1e-13).
                Expect.isLessThan (metric "AbAcAd-rnn.sequenceModelGap") 1e-13 "the hand fold is the library's model"
                Expect.isTrue (lines |> List.exists (fun l -> l.Contains "Quick mode")) "the report says it ran in quick mode"
                Expect.isTrue (lines |> List.exists (fun l -> l.StartsWith "Wrote 13 pictures")) "the report ends with what it wrote")
        }

        test "the same seed gives the same numbers" {
            let numbers (result: ExampleResult) = result.Metrics |> Map.remove "seconds"
            runQuick Seed000.run "seed000" (Some 5) (fun _ _ first -> runQuick Seed000.run "seed000" (Some 5) (fun _ _ second -> Expect.equal (numbers second) (numbers first) "metrics of two runs"))
        }
    ]
