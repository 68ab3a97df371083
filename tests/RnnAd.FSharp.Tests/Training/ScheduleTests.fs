module RnnAd.FSharp.Tests.Training.ScheduleTests

open System
open System.IO
open System.Text.Json
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Tests

// Every schedule against its formula worked here, then against PyTorch 1.13's rates update by update
// (tests/fixtures/schedules.py writes schedules.json).
//
// Tolerance against PyTorch: 1e-12 relative. Ours evaluates each closed form once; PyTorch's schedulers are
// "chainable": each rate is the last one times a ratio (ExponentialLR multiplies by γ each update, CosineAnnealingLR
// forms a ratio of cosines), so rounding accumulates about an ulp per update, more relative to a rate near a cosine's
// minimum. Over the ≤ 97 updates of a case that stays far below 1e-12; the last test states what was measured.

let private rates (schedule: Schedule) (n: int) = Array.init n (fun s -> Schedules.rate schedule (int64 s))

let private fixture =
    lazy (
        use doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "schedules.json")))
        doc.RootElement.Clone())

let private floats (e: JsonElement) = [| for v in e.EnumerateArray() -> if v.ValueKind = JsonValueKind.Null then nan else v.GetDouble() |]

/// The schedule a fixture case describes.
let private scheduleOf (name: string) (p: JsonElement) : Schedule =
    let f (key: string) = p.GetProperty(key).GetDouble()
    let i (key: string) = p.GetProperty(key).GetInt32()
    match name with
    | "step" -> Schedule.Step(f "lr", i "every", f "gamma")
    | "exponential" -> Schedule.Exponential(f "lr", f "gamma")
    | "cosine" -> Schedule.Cosine(f "lr", i "total", f "minLr")
    | "cosineWarmRestarts" -> Schedule.CosineWarmRestarts(f "lr", i "period", i "periodFactor", f "minLr")
    | "oneCycle" -> Schedule.OneCycle(f "maxLr", i "total", f "pctStart", f "divFactor", f "finalDivFactor")
    | "warmupConstant" -> Schedule.Warmup(i "steps", f "startFactor", Schedule.Constant(f "lr"))
    | "warmupCosine" -> Schedule.Warmup(i "steps", f "startFactor", Schedule.Cosine(f "lr", i "total", f "minLr"))
    | other -> failwithf "unknown fixture case %s" other

/// The largest relative difference between ours and PyTorch's rates over every step-driven case.
let private worstAgainstPyTorch () =
    [ for c in fixture.Value.GetProperty("cases").EnumerateArray() ->
        let expected = floats (c.GetProperty "rates")
        let ours = rates (scheduleOf (c.GetProperty("name").GetString()) (c.GetProperty "params")) expected.Length
        Array.map2 (fun (a: float) b -> abs (a - b) / max (abs a) (abs b)) ours expected |> Array.max ]
    |> List.max

[<Tests>]
let tests =
    testList "Training/schedules" [
        test "each step-driven schedule follows its formula" {
            // StepLR: lr·γ^⌊s/k⌋; ExponentialLR: lr·γ^s.
            Check.close "step" 1e-15 0.0 [| 0.1; 0.1; 0.05; 0.05; 0.025 |] (rates (Schedule.Step(0.1, 2, 0.5)) 5)
            Check.close "exponential" 1e-15 0.0 [| 2.0; 1.0; 0.5; 0.25 |] (rates (Schedule.Exponential(2.0, 0.5)) 4)
            // Cosine over 4 updates from 1 to 0.2: 0.2 + 0.8·(1 + cos(πs/4))/2.
            let cosine = [| for s in 0 .. 8 -> 0.2 + 0.8 * (1.0 + cos (Math.PI * float s / 4.0)) / 2.0 |]
            Check.close "cosine" 1e-15 0.0 cosine (rates (Schedule.Cosine(1.0, 4, 0.2)) 9)
            // Warm restarts with T_0 = 2, T_mult = 2: periods [0, 2), [2, 6), [6, 14): the position in each restarts at 0.
            let restart t period = (1.0 + cos (Math.PI * float t / float period)) / 2.0
            let expected = [| restart 0 2; restart 1 2; restart 0 4; restart 1 4; restart 2 4; restart 3 4; restart 0 8; restart 1 8 |]
            Check.close "warm restarts" 1e-15 0.0 expected (rates (Schedule.CosineWarmRestarts(1.0, 2, 2, 0.0)) 8)
            Check.close "warm restarts, equal periods" 1e-15 0.0 [| 1.0; 0.5; 1.0; 0.5; 1.0 |] (rates (Schedule.CosineWarmRestarts(1.0, 2, 1, 0.0)) 5)
            // Warm-up over 4 updates from ¼ of the rate, then the constant: 0.25, 0.4375, 0.625, 0.8125, 1, 1.
            Check.close "warm-up" 1e-15 0.0 [| 0.25; 0.4375; 0.625; 0.8125; 1.0; 1.0 |] (rates (Schedule.Warmup(4, 0.25, Schedule.Constant 1.0)) 6)
            // ... then a step schedule that starts counting after the warm-up.
            Check.close "warm-up then step" 1e-15 0.0 [| 0.5; 1.0; 1.0; 0.1; 0.1 |] (rates (Schedule.Warmup(1, 0.5, Schedule.Step(1.0, 2, 0.1))) 5)
        }
        test "one-cycle climbs over pctStart of its updates, anneals to lr/div/finalDiv and holds there past its end" {
            // 10 updates, pctStart 0.3: the peak at update 0.3·10 − 1 = 2, the end at update 9.
            let s = Schedule.OneCycle(1.0, 10, 0.3, 10.0, 100.0)
            let initial, final = 0.1, 0.001
            let anneal a b pct = b + (a - b) / 2.0 * (cos (Math.PI * pct) + 1.0)
            let expected = [| for u in 0 .. 11 -> if u <= 2 then anneal initial 1.0 (float u / 2.0) elif u <= 9 then anneal 1.0 final (float (u - 2) / 7.0) else final |]
            Check.close "one-cycle" 1e-15 0.0 expected (rates s 12)
            Expect.equal (Schedules.rate s 2L) 1.0 "the peak"
            Expect.equal (Schedules.rate s 9L) final "the end"
            Expect.equal (Schedules.rate s 1000L) final "held past the end"
        }
        test "cosine past its length climbs back to lr (PyTorch's formula), instead of staying at the minimum" {
            let s = Schedule.Cosine(1.0, 10, 0.0)
            Expect.equal (Schedules.rate s 10L) 0.0 "the minimum at the length"
            Check.close "back up" 1e-15 1e-16 [| Schedules.rate s 5L; 1.0 |] [| Schedules.rate s 15L; Schedules.rate s 20L |]
        }
        test "reduce-on-plateau multiplies the rate after more than Patience bad epochs, with cooldown and a floor" {
            let o = { PlateauOptions.Default with Factor = 0.5; Patience = 1; Threshold = 0.0; Cooldown = 1; MinLr = 0.2 }
            let run figures =
                figures |> List.scan (Schedules.plateauStep o false) (Schedules.plateauStart 1.0 false) |> List.tail |> List.map (fun p -> p.Rate)
            // 1 improves; 1, 1: two bad epochs > patience 1 → 0.5; the cooldown epoch is not bad; then two more → 0.25;
            // two more → 0.2, the floor, not 0.125.
            Expect.equal (run [ 1.0; 1.0; 1.0; 1.0; 1.0; 1.0; 1.0; 1.0; 1.0; 1.0 ]) [ 1.0; 1.0; 0.5; 0.5; 0.5; 0.25; 0.25; 0.25; 0.2; 0.2 ] "rates"
            // A NaN is never an improvement; a higher-is-better figure improves upwards.
            let up = Schedules.plateauStep o true (Schedules.plateauStart 1.0 true) 0.3
            Expect.equal up.Best 0.3 "an accuracy improves on −∞"
            Expect.equal (Schedules.plateauStep o true up nan).BadEpochs 1 "NaN is a bad epoch"
            // The rate the trainer reads: the plateau's state, through a warm-up too.
            let schedule = Schedule.Warmup(2, 0.5, Schedule.ReduceOnPlateau(1.0, o))
            Expect.equal (Schedules.rateWith (Some { up with Rate = 0.25 }) schedule 1L) (0.25 * 0.75) "warm-up of the current rate"
            Expect.equal (Schedules.rateWith None schedule 5L) 1.0 "the starting rate without a state"
        }
        test "invalid schedules are refused naming the parameter" {
            Check.throwsWith [ "every" ] (fun () -> Schedules.validate (Schedule.Step(1.0, 0, 0.5)))
            Check.throwsWith [ "gamma" ] (fun () -> Schedules.validate (Schedule.Exponential(1.0, -0.5)))
            Check.throwsWith [ "periodFactor" ] (fun () -> Schedules.validate (Schedule.CosineWarmRestarts(1.0, 3, 0, 0.0)))
            Check.throwsWith [ "pctStart"; "10 updates" ] (fun () -> Schedules.validate (Schedule.OneCycle(1.0, 10, 0.05, 25.0, 1e4)))
            Check.throwsWith [ "Factor" ] (fun () -> Schedules.validate (Schedule.ReduceOnPlateau(1.0, { PlateauOptions.Default with Factor = 1.0 })))
            Check.throwsWith [ "startFactor" ] (fun () -> Schedules.validate (Schedule.Warmup(3, 0.0, Schedule.Constant 1.0)))
            Check.throwsWith [ "another warm-up" ] (fun () -> Schedules.validate (Schedule.Warmup(3, 0.5, Schedule.Warmup(3, 0.5, Schedule.Constant 1.0))))
        }
        test "every step-driven schedule gives PyTorch 1.13's rates, update by update" {
            let cases = fixture.Value.GetProperty("cases").EnumerateArray() |> Seq.toList
            Expect.isGreaterThanOrEqual cases.Length 9 "the fixture's cases"
            for c in cases do
                let name = c.GetProperty("name").GetString()
                let expected = floats (c.GetProperty "rates")
                Check.close (sprintf "%s %s" name (c.GetProperty("params").GetRawText())) 1e-12 0.0 expected (rates (scheduleOf name (c.GetProperty "params")) expected.Length)
        }
        test "reduce-on-plateau gives PyTorch 1.13's rates, epoch by epoch" {
            for c in fixture.Value.GetProperty("plateaus").EnumerateArray() do
                let p = c.GetProperty "params"
                let get (key: string) fallback = match p.TryGetProperty key with | true, v -> v.GetDouble() | _ -> fallback
                let o =
                    { Factor = get "factor" 0.1; Patience = int (get "patience" 10.0); Threshold = get "threshold" 1e-4
                      RelativeThreshold = (match p.TryGetProperty "threshold_mode" with | true, v -> v.GetString() = "rel" | _ -> true)
                      Cooldown = int (get "cooldown" 0.0); MinLr = get "min_lr" 0.0; Epsilon = 1e-8 }
                let higher = p.GetProperty("mode").GetString() = "max"
                let ours =
                    floats (c.GetProperty "figures")
                    |> Array.scan (Schedules.plateauStep o higher) (Schedules.plateauStart (p.GetProperty("lr").GetDouble()) higher)
                    |> Array.tail |> Array.map (fun s -> s.Rate)
                Check.close (c.GetProperty("name").GetString()) 1e-12 0.0 (floats (c.GetProperty "rates")) ours
        }
        test "the largest difference from PyTorch is a few ulps" {
            // Measured when written: 4.6e-15, 33 ulps (4.7e-15 after a warm-up), CosineAnnealingLR's chained ratios near its minimum (rates ~1e-3, where an
            // absolute error of the larger rates before is large relatively); StepLR, OneCycleLR and the warm restarts agree to
            // the bit, ExponentialLR to 4 ulps, LinearLR to 1.
            Expect.isLessThan (worstAgainstPyTorch ()) 1e-13 "relative"
        }
    ]
