module RnnAd.FSharp.Tests.Reference.GradientReportTests

open RnnAd
open System
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Reference
open RnnAd.FSharp.Tests
open RnnAd.FSharp.Tests.Reference.Cases

// The checker itself must be able to fail: errors worked out by hand, a deliberately wrong gradient caught on
// exactly the parameter it was planted in, and finite differences checked on functions with known gradients.

let private named (entries: (string * int[] * float[]) list) =
    NamedTensors(entries |> List.map (fun (n, s, v) -> n, Tensor.OfArray(s, v)) |> Array.ofList)

[<Tests>]
let tests =
    testList "Reference/gradient report" [
        test "errors, indices and verdicts worked out by hand" {
            // Entry [1, 0]: |3 − 3.3| = 0.3 (largest absolute), relative 0.3/3.3 = 0.0909…;
            // entry [0, 1]: |−1e-3 − 1e-3| = 2e-3, relative 2e-3/1e-3 = 2 (largest relative).
            let a = named [ "w", [| 2; 2 |], [| 1.0; -1e-3; 3.0; 0.0 |]; "b", [| 2 |], [| 5.0; 5.0 |] ]
            let b = named [ "w", [| 2; 2 |], [| 1.0; 1e-3; 3.3; 0.0 |]; "b", [| 2 |], [| 5.0; 5.0 |] ]
            let r = GradientReport.compare "A" "B" { Relative = 0.1; Floor = 1e-300 } a b
            let w = r.Rows.[0]
            Expect.equal w.Name "w" "rows in the left's order"
            Expect.floatClose Accuracy.veryHigh w.MaxAbsoluteError 0.3 "largest |a − b|"
            Expect.equal w.MaxAbsoluteIndex [| 1; 0 |] "where the largest absolute error is"
            Expect.floatClose Accuracy.veryHigh w.MaxRelativeError 2.0 "largest relative error"
            Expect.equal w.MaxRelativeIndex [| 0; 1 |] "where the largest relative error is"
            Expect.equal (w.Left, w.Right) (-1e-3, 1e-3) "the values there"
            Expect.isFalse w.Passed "2 > 0.1"
            Expect.isTrue r.Rows.[1].Passed "identical tensors pass"
            Expect.equal r.Rows.[1].MaxRelativeError 0.0 "0/0 is 0 with the 1e-300 floor"
            Expect.isFalse r.Passed "one failed row fails the report"
            Expect.equal (r.FailedRows |> Array.map (fun x -> x.Name)) [| "w" |] "only w failed"
        }
        test "the floor judges small entries by absolute error" {
            // |1e-9 − 2e-9| = 1e-9: relative 0.5 without a floor, 1e-9/1e-2 = 1e-7 with the floor 1e-2.
            let a, b = named [ "x", [| 1 |], [| 1e-9 |] ], named [ "x", [| 1 |], [| 2e-9 |] ]
            Expect.isFalse (GradientReport.compare "a" "b" { Relative = 1e-6; Floor = 1e-300 } a b).Passed "purely relative"
            let floored = GradientReport.compare "a" "b" GradientTolerance.FiniteDifferences a b
            Expect.isTrue floored.Passed "floored"
            Expect.floatClose Accuracy.veryHigh floored.MaxRelativeError 1e-7 "1e-9 / 1e-2"
        }
        test "a NaN or an infinity fails, even against itself" {
            let a = named [ "x", [| 3 |], [| 1.0; nan; 2.0 |] ]
            let r = GradientReport.compare "a" "a" GradientTolerance.AdVsBptt a a
            Expect.isFalse r.Passed "NaN is not a gradient"
            Expect.equal r.Rows.[0].MaxRelativeIndex [| 1 |] "the NaN's index"
            Expect.equal r.Rows.[0].MaxRelativeError Double.PositiveInfinity "reported as +∞"
            Expect.isFalse (GradientReport.compare "a" "a" GradientTolerance.AdVsBptt (named [ "x", [| 1 |], [| infinity |] ]) (named [ "x", [| 1 |], [| infinity |] ])).Passed "∞ too"
        }
        for kind in kinds do
            test (sprintf "%s: a perturbed copy of one parameter's gradient fails that parameter and only that one" kind.Name) {
                let case = random "checker" { Input = 3; Hidden = 4; Time = 5; Batch = 2; Layers = 2 } (Array.IndexOf(kinds, kind))
                let _, ad = adGradients case.Spec case.Params RunOptions.Default case.Batch
                let _, bptt = Bptt.lossAndGradients case.Spec case.Params None case.Batch
                let victim = "rnn.weight_hh_l0"
                // One entry off by 1e-8 relative: far below what finite differences could see, 100× the bound.
                let wrongBy (relative: float) =
                    bptt |> NamedTensors.map (fun name g ->
                        if name <> victim then g
                        else
                            let v = g.ToArray()
                            let at = v |> Array.mapi (fun i x -> i, abs x) |> Array.maxBy snd |> fst
                            v.[at] <- v.[at] * (1.0 + relative)
                            Tensor.OfArray(g.Shape, v))
                expectPass "the true gradients agree" (GradientReport.compare "AD" "BPTT" GradientTolerance.AdVsBptt ad bptt)
                let r = GradientReport.compare "AD" "BPTT (wrong)" GradientTolerance.AdVsBptt ad (wrongBy 1e-8)
                Expect.isFalse r.Passed "the report fails"
                Expect.equal (r.FailedRows |> Array.map (fun x -> x.Name)) [| victim |] "on the perturbed parameter only"
                Expect.isGreaterThan r.FailedRows.[0].MaxRelativeError 0.9e-8 "by about the planted error"
                let table = r.ToTable()
                Expect.stringContains table "FAIL" "the verdict line says so"
                let line = table.Split('\n') |> Array.find (fun l -> l.StartsWith(victim + " "))
                Expect.isTrue (line.TrimEnd().EndsWith "NO") "the failing row is marked"
                // A 1e-13 relative perturbation is within the bound: the checker is not failing everything.
                Expect.isTrue (GradientReport.compare "AD" "BPTT" GradientTolerance.AdVsBptt ad (wrongBy 1e-13)).Passed "1e-13 passes"
            }
        test "rounding noise at a saturated softmax: purely relative flags it, the floored tolerance accepts it" {
            // Random model #321 of the randomized family (found by measuring 2000 of them) predicts some steps with
            // probability 1 − O(1e-16); ∂L/∂logits = softmax − one-hot is then a few ulps of 1, computed by
            // cancellation on both sides, and the ∂L/∂h_t it feeds (about 3e-16 against entries of 0.9) agree only
            // to 2e-3 relative: rounding noise, not a bug.
            let case = random "ad-vs-bptt" { Input = 8; Hidden = 16; Time = 40; Batch = 4; Layers = 2 } 321
            let ad = AdGradients.run case.Spec case.Params RunOptions.Default case.Batch
            let bptt = Bptt.run case.Spec case.Params RunOptions.Default case.Batch
            let purelyRelative = GradientReport.compare "AD" "BPTT" GradientTolerance.AdVsBptt ad.Hidden bptt.Hidden
            Expect.isFalse purelyRelative.Passed "docs/ARCHITECTURE.md §7.2's pure bound sees the noise"
            for row in purelyRelative.FailedRows do
                Expect.isLessThan (abs (row.Left - row.Right)) 1e-17 (sprintf "%s: the worst entry differs at the rounding-noise level" row.Name)
                Expect.isLessThan row.MaxAbsoluteError 1e-15 (sprintf "%s: so does every entry (a few ulps of 0.9)" row.Name)
            expectPass "with the floor" (GradientReport.compare "AD" "BPTT" GradientTolerance.AdVsBpttFloored ad.Hidden bptt.Hidden)
            expectPass "parameters" (GradientReport.compare "AD" "BPTT" GradientTolerance.AdVsBptt ad.Parameters bptt.Parameters)
        }
        test "the table is aligned: every column starts at the same offset on every row" {
            let a = named [ "rnn.weight_ih_l0", [| 2; 3 |], Array.init 6 float; "fc.bias", [| 2 |], [| 1.0; 2.0 |] ]
            let b = a |> NamedTensors.map (fun _ t -> t * 1.5)
            let lines = (GradientReport.compare "AD" "BPTT" GradientTolerance.AdVsBptt a b).ToTable().Split('\n', StringSplitOptions.RemoveEmptyEntries)
            Expect.equal lines.Length 4 "verdict, header, two rows"
            let header = lines.[1]
            for column in [ "shape"; "max |a-b|"; "max rel"; "AD"; "BPTT"; "ok" ] do
                let at = header.IndexOf(" " + column) + 1
                for row in lines.[2..] do
                    Expect.isTrue (at > 0 && row.[at - 2] = ' ' && row.[at - 1] = ' ' && row.[at] <> ' ') (sprintf "column '%s' starts at %d in '%s'" column at row)
        }
        test "finite differences of a function with a known gradient" {
            // f(a, b) = Σ aᵢ³ + b·Σ aᵢ  ⇒  ∂f/∂aᵢ = 3aᵢ² + b,  ∂f/∂b = Σ aᵢ.
            let ps = named [ "a", [| 2; 2 |], [| 0.5; -1.5; 2.0; 0.1 |]; "b", [| 1 |], [| -0.7 |] ]
            let f (p: NamedTensors) =
                let a, b = p.["a"].ToArray(), p.["b"].ToArray().[0]
                Array.sumBy (fun x -> x * x * x) a + b * Array.sum a
            let g = FiniteDifferences.gradient f ps
            Expect.equal g.Names ps.Names "same names"
            Expect.equal g.["a"].Shape [| 2; 2 |] "same shapes"
            // Truncation error h²·f'''/6 = 1e-12 and rounding ≈ 1e-16·|f|/h ≈ 1e-9 at most here: 1e-8 relative.
            Check.close "a" 1e-8 0.0 [| 3.0 * 0.25 - 0.7; 3.0 * 2.25 - 0.7; 3.0 * 4.0 - 0.7; 3.0 * 0.01 - 0.7 |] (g.["a"].ToArray())
            Check.close "b" 1e-8 0.0 [| 0.5 - 1.5 + 2.0 + 0.1 |] (g.["b"].ToArray())
        }
        test "the step is scaled to the value: θ² at θ = 1e6" {
            // With h = 1e-6·|θ| = 1 the centred difference of θ² is exact up to rounding ε·θ²/h ≈ 1e-4 on 2e6
            // (5e-11 relative); an unscaled h = 1e-6 would lose 1e-4·1e6 = 1e2 (5e-5 relative).
            let g = FiniteDifferences.gradient (fun p -> let x = p.["x"].ToArray().[0] in x * x) (named [ "x", [| 1 |], [| 1e6 |] ])
            Check.close "x" 1e-9 0.0 [| 2e6 |] (g.["x"].ToArray())
            Expect.equal (FiniteDifferences.step 1e6) 1.0 "h = 1e-6·|θ|"
            Expect.equal (FiniteDifferences.step 0.25) 1e-6 "h = 1e-6 for |θ| < 1"
        }
        test "GradientCheck.run passes on a correct model and prints every table" {
            let case = random "one-call" { Input = 3; Hidden = 3; Time = 4; Batch = 2; Layers = 2 } 2
            let r = GradCheck.run case.Spec case.Params { GradCheckOptions.Default with FiniteDifferences = true } case.Batch
            if not r.Passed then failtestf "%s" (r.ToText())
            Expect.equal (r.FiniteDifferences |> Array.map (fun x -> x.LeftLabel, x.RightLabel)) [| "AD", "FD"; "BPTT", "FD" |] "both exact gradients vs FD"
            let text = r.ToText()
            for fragment in [ "AD vs BPTT: PASS"; "AD vs FD: PASS"; "BPTT vs FD: PASS"; "h_l0"; "gradient check PASSED" ] do
                Expect.stringContains text fragment "the text report"
            let plain = GradCheck.run case.Spec case.Params GradCheckOptions.Default case.Batch
            Expect.isEmpty plain.FiniteDifferences "no finite differences unless asked"
        }
        test "AdGradients' probes change no value: its gradients are the plain AD gradients, to the bit" {
            let case = random "probes" { Input = 3; Hidden = 4; Time = 6; Batch = 2; Layers = 2 } 7
            let loss, plain = adGradients case.Spec case.Params RunOptions.Default case.Batch
            let probed = AdGradients.run case.Spec case.Params RunOptions.Default case.Batch
            Expect.equal probed.Loss loss "the loss"
            for (name, a), (_, b) in Array.zip plain.Entries probed.Parameters.Entries do
                Expect.equal (b.ToArray()) (a.ToArray()) name
        }
    ]
