module RnnAd.FSharp.Tests.Examples.Seed001Tests

open System
open System.IO
open Expecto
open RnnAd.Examples
open RnnAd.FSharp.Tests
open RnnAd.FSharp.Tests.Examples.ExampleSupport

/// A table of probabilities the seed printed (`print('before pred', pred)`), rows = steps h, e, l, l.
let private expectTable (metric: string -> float) (run: string) (which: string) (printed: float list list) =
    printed |> List.iteri (fun t row ->
        row |> List.iteri (fun c p ->
            let name = sprintf "%s.%s.step%d.P(%c)" run which t "helo".[c]
            // NumPy prints 8 decimals, so the true value lies within 5e-9 of the printed one; 1e-15 for float64 noise.
            Expect.floatClose { absolute = 5e-9 + 1e-15; relative = 0.0 } (metric name) p (sprintf "%s = the seed's printout" name)))

[<Tests>]
let tests =
    testList "Examples/seed 001" [
        test "NumPy's legacy generator draws what NumPy draws" {
            // Printed by NumPy 1.24: np.random.seed(s); np.random.randn(n) (repr, so every digit of the double).
            let exactly what (expected: float[]) (actual: float[]) =
                // The same operations as NumPy's C code; only `log` could differ by an ulp on a platform whose libm
                // is not correctly rounded, hence 4e-16 relative (two ulps) rather than bit equality.
                Check.close what 4e-16 0.0 expected actual
            exactly "seed 230912" [| 0.028246641121670135; 1.6855966338211983; 0.651291255250712; -0.12504276344676182; 0.29588468343980556 |]
                (NumPyRandom.standardNormal 230912u 5)
            // Draws 999 and 2000 lie past several regenerations of the 624-word state.
            let many = NumPyRandom.standardNormal 230912u 2001
            exactly "seed 230912, draws 999 and 2000" [| -0.5439237522601011; -0.846883227917899 |] [| many.[999]; many.[2000] |]
            exactly "seed 0" [| 1.764052345967664; 0.4001572083672233; 0.9787379841057392 |] (NumPyRandom.standardNormal 0u 3)
            exactly "seed 2^32 − 1" [| 0.6484086742306527 |] (NumPyRandom.standardNormal UInt32.MaxValue 1)
            Expect.equal (NumPyRandom.standardNormal 230912u 3) (NumPyRandom.standardNormal 230912u 5).[0..2] "an odd count is a prefix of a longer one"
            Expect.isEmpty (NumPyRandom.standardNormal 1u 0) "no draws"
            Check.throwsWith [ "count"; "-1" ] (fun () -> NumPyRandom.standardNormal 1u -1)
        }

        test "quick mode reproduces the seed's printout, passes the gradient check and shows the gradient vanish" {
            runQuick Seed001.run "seed001" None (fun directory lines result ->
                let metric = metric result
                Expect.equal (result.Files |> List.map Path.GetFileName |> List.sort)
                    [ "seed001-gradient-flow.png"; "seed001-loss.png"; "seed001-predictions.png" ] "the pictures written"
                checkPictures directory result.Files 300 200

                // The seed's own 'before pred' tables (hidden 3, the first run; after the notebook's call at rate 0.001;
                // hidden 6), copied from the seed: the example starts from the notebook's weights.
                expectTable metric "h3-seed-target0" "before"
                    [ [ 0.06397614; 0.03819114; 0.85299781; 0.0448349 ]; [ 0.0403228; 0.76902459; 0.06926133; 0.12139129 ]
                      [ 0.27148641; 0.47031804; 0.03033868; 0.22785687 ]; [ 0.19165547; 0.02808298; 0.7083062; 0.07195535 ] ]
                expectTable metric "h3-seed-truncated" "before"
                    [ [ 0.06421967; 0.03826087; 0.85256996; 0.0449495 ]; [ 0.04060981; 0.76764176; 0.07027615; 0.12147228 ]
                      [ 0.26839292; 0.47363898; 0.03059547; 0.22737263 ]; [ 0.19292056; 0.02834739; 0.70545919; 0.07327286 ] ]
                expectTable metric "h6-seed-truncated" "before"
                    [ [ 3.24394454e-01; 3.89065541e-01; 6.23646205e-02; 2.24175385e-01 ]; [ 1.69186579e-01; 2.30567092e-01; 3.42921900e-03; 5.96817110e-01 ]
                      [ 6.55115321e-03; 9.26344723e-01; 2.39628192e-04; 6.68644959e-02 ]; [ 6.20281475e-04; 6.23833255e-01; 7.67802601e-04; 3.74778661e-01 ] ]
                // The losses the seed printed at i = 0, 100, 200 of each run (after update i + 1), copied from the seed. The
                // same algebra in float64 summed in another order: measured within 3e-15 relative over all 2000 updates.
                let printed =
                    [ "h3-seed-target0", [ 11.995305385065343; 8.542236164743558; 7.253592358973341 ]
                      "h3-seed-truncated", [ 11.79515658524334; 4.959578421445732; 3.8864902061821684 ]
                      "h6-seed-truncated", [ 15.867816298322511; 1.7177823033832111; 1.111257945581254 ] ]
                for run, losses in printed do
                    losses |> List.iteri (fun k expected ->
                        let name = sprintf "%s.seedPrint.%d" run (100 * k)
                        Expect.floatClose { absolute = 0.0; relative = 1e-12 } (metric name) expected (sprintf "%s = the seed's printout" name))

                // AD against the hand-derived BPTT (and finite differences at the start): every check passed.
                for name in [ "gradientCheck.passed"; "gradientCheck.trained.passed"; "gradientCheck.truncated.passed" ] do
                    Expect.equal (metric name) 1.0 (sprintf "%s: AD and BPTT agree" name)
                // docs/ARCHITECTURE.md §7.2: AD and BPTT compute the same algebra, so their norms agree to 1e-10 relative.
                Expect.isLessThanOrEqual (metric "flow.adVsBptt") 1e-10 "AD and BPTT gradient flows agree"

                // The vanishing configuration: ‖W_hh‖₂ = 0.5 and tanh' ≤ 1, and the error enters at the last step only,
                // so every step back multiplies ‖∂L/∂h‖ by at most 0.5: strictly decreasing, by at least 0.5^59 over 60 steps.
                Expect.floatClose { absolute = 0.0; relative = 1e-12 } (metric "flow.small.sigma") 0.5 "the small W_hh has spectral norm 0.5"
                Expect.equal (metric "flow.small.decreasingSteps") 59.0 "‖∂L/∂h_t‖ decreases at each of the 59 steps back"
                Expect.isLessThanOrEqual (metric "flow.small.ratio") (0.5 ** 59.0) "‖∂L/∂h_0‖ / ‖∂L/∂h_59‖ ≤ 0.5^59"
                Expect.isGreaterThan (metric "flow.small.first") 0.0 "but it is not exactly zero"

                // Sane training numbers, even in quick mode.
                for run in [ "h3-seed-target0"; "h3-full"; "h3-seed-truncated"; "h3-tbptt-k2"; "h3-tbptt-k1"; "h3-rnnad-biases"; "h6-seed-truncated"; "h6-full" ] do
                    let initial, final, accuracy = metric (run + ".initialLoss"), metric (run + ".loss"), metric (run + ".accuracy")
                    Expect.isTrue (final > 0.0 && final < initial) (sprintf "%s: gradient descent lowers the summed loss (%g → %g)" run initial final)
                    Expect.isTrue (accuracy >= 0.0 && accuracy <= 1.0) (sprintf "%s: accuracy %g is a fraction" run accuracy)
                // Four steps at probability 1/4 each: 4·ln 4.
                Expect.floatClose Accuracy.veryHigh (metric "h3-seed-target0.uniformLoss") (4.0 * Math.Log 4.0) "the plateau of the seed's run"
                // A bias shared by all classes gets the gradient Σ_c (P(c) − target(c)) = 0 at every step.
                Expect.isLessThan (metric "h3-full.byChange") 1e-12 "the seed's By does not learn"
                Expect.isTrue (lines |> List.exists (fun l -> l.Contains "target[0]")) "the report names the seed's typo"
                Expect.isTrue (lines |> List.exists (fun l -> l.Contains "gradient check PASSED")) "the report prints the gradient check"
                Expect.isTrue (lines |> List.exists (fun l -> l.Contains "Quick mode")) "the report says it ran in quick mode")
        }

        test "another NumPy seed runs, leaves out the comparison with the printout, and gives the same numbers twice" {
            let numbers (result: ExampleResult) = result.Metrics |> Map.remove "seconds"
            runQuick Seed001.run "seed001" (Some 7) (fun _ lines first ->
                Expect.isFalse (first.Metrics.ContainsKey "seedPrintGap") "no comparison with the notebook's printout"
                Expect.isTrue (lines |> List.exists (fun l -> l.Contains "comparisons with the seed's printout are left out")) "the report says why"
                runQuick Seed001.run "seed001" (Some 7) (fun _ _ second -> Expect.equal (numbers second) (numbers first) "metrics of two runs"))
        }

        test "a negative seed is refused, naming the option" {
            Check.throwsWith [ "Seed"; "-1" ] (fun () -> Seed001.run { ExampleOptions.create (Path.GetTempPath()) with Quick = true; Write = ignore; Seed = Some -1 })
        }
    ]
