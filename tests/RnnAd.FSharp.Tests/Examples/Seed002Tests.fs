module RnnAd.FSharp.Tests.Examples.Seed002Tests

open System
open System.IO
open Expecto
open RnnAd.Examples
open RnnAd.FSharp.Tests.Examples.ExampleSupport

/// Seed 002's sentence, copied from the seed.
let private sentence =
    "if you want to build a ship, don't drum up people together to collect wood and don't assign them tasks and work, but rather teach them to long for the endless immensity of the sea."

/// The best accuracy of any predictor whose guess at step t of a window depends only on the window's first t + 1
/// characters: for each such beginning (a substring of the sentence here, not ids), the most frequent next
/// character. A second computation, independent of the example's.
let private ceiling (length: int) =
    let cases =
        [ for i in 0 .. sentence.Length - length - 1 do
            for t in 0 .. length - 1 -> sentence.Substring(i, t + 1), sentence.[i + t + 1] ]
    let right = cases |> List.groupBy fst |> List.sumBy (fun (_, group) -> group |> List.countBy snd |> List.map snd |> List.max)
    float right / float cases.Length

[<Tests>]
let tests =
    testList "Examples/seed 002" [
        test "quick mode prints the right shapes, writes its picture and stays under the accuracy ceiling" {
            let directory = Path.Combine(Path.GetTempPath(), "rnnad-seed002-" + Guid.NewGuid().ToString("N"))
            try
                let lines = ResizeArray<string>()
                let result = Seed002.run { ExampleOptions.create directory with Quick = true; Write = lines.Add }
                let metric name =
                    match result.Metrics.TryFind name with
                    | Some v -> v
                    | None -> failtestf "metric '%s' is missing; present: %A" name (result.Metrics |> Map.keys |> List.ofSeq)
                let printed (fragment: string) =
                    Expect.isTrue (lines |> Seq.exists (fun l -> l.Contains fragment)) (sprintf "the report prints \"%s\"" fragment)

                // Seed 004's batch: 3 words of 5 letters, one-hot over 4 letters, hidden 2, one layer, batch-first.
                let shape name (expected: int list) =
                    expected |> List.iteri (fun i d -> Expect.equal (metric (sprintf "%s.%d" name i)) (float d) (sprintf "%s dimension %d" name i))
                shape "tour.input" [ 3; 5; 4 ]
                shape "tour.outputs" [ 3; 5; 2 ]
                shape "tour.final" [ 3; 2 ]
                Expect.equal (metric "tour.final.states") 1.0 "one final state: 1 layer × 1 direction"
                // PyTorch's time-first reading of the same (3, 5, 4) array: 5 sequences of 3 steps.
                shape "tour.timeFirst.outputs" [ 5; 3; 2 ]
                // The last output of a one-layer RNN is its final state, the very same tensor's values.
                Expect.equal (metric "tour.lastOutputVsFinal") 0.0 "outputs[:, 4, :] = h_n"
                printed "(batch, time, input)  = (3, 5, 4)"
                printed "(batch, time, hidden) = (3, 5, 2)"
                printed "of (batch, hidden) = (3, 2)"
                printed "\"hel\", \"eol\", \"lle\", \"lle\", \"oll\""

                // The sentence: 180 characters give 180 − 10 windows; the distinct characters counted here.
                let distinct = sentence |> Seq.distinct |> Seq.length
                Expect.equal sentence.Length 180 "the seed's sentence"
                Expect.equal (metric "sentence.windows") 170.0 "one window per position but the last 10"
                Expect.equal (metric "sentence.vocabulary") (float distinct) "the distinct characters"
                shape "sentence.logits" [ 170; 10; distinct ]
                Expect.equal (metric "sentence.finalStates") 2.0 "two layers, two final states"
                printed (sprintf "x (170, 10, %d) one-hot, targets (170, 10)" distinct)
                // The first window's 10 predictions and one more per later window: the sentence less its first letter.
                Expect.equal (metric "sentence.reconstructionLength") 179.0 "10 + 169 characters read back"
                let errors = metric "sentence.reconstructionErrors"
                Expect.isTrue (errors >= 0.0 && errors <= 179.0) (sprintf "%g wrong characters of 179" errors)

                // Even 20 full-batch Adam updates lower the loss from its start (about ln 25 for a fresh net).
                Expect.isLessThan (metric "sentence.loss") (metric "sentence.initialLoss") "training lowers the loss"
                // The ceiling recomputed here from the text; the example counts ids. Ratios of the same integers: 1e-12.
                Expect.floatClose { absolute = 1e-12; relative = 0.0 } (metric "sentence.ceiling") (ceiling 10) "the accuracy ceiling"
                Expect.isLessThanOrEqual (metric "sentence.accuracy") (ceiling 10 + 1e-12) "no model that starts windows afresh beats the ceiling"
                Expect.isGreaterThan (metric "sentence.accuracy") 0.0 "some characters are right"

                Expect.equal (result.Files |> List.map Path.GetFileName) [ "seed002-training.png" ] "the picture written"
                let bytes = File.ReadAllBytes result.Files.Head
                Expect.equal bytes.[0..7] pngSignature "the picture starts with the PNG signature"
                let width, height = pngSize bytes
                Expect.isTrue (width >= 300 && height >= 200) (sprintf "the picture is %d × %d pixels, a readable size" width height)
                Expect.isEmpty (Directory.GetFiles(directory, "*.tmp")) "no temporary file is left behind"
                printed "Quick mode"
            finally
                if Directory.Exists directory then Directory.Delete(directory, true)
        }
    ]
