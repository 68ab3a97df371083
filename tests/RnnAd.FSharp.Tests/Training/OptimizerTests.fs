module RnnAd.FSharp.Tests.Training.OptimizerTests

open RnnAd
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Tests

let private one name (value: float) = NamedTensors [| name, Tensor.OfArray [| value |] |]

/// Runs `steps` updates of a single parameter p = 1 with the constant gradient 0.5.
let private run (optimizer: Optimizer) (lr: float) (steps: int) : float =
    let mutable p = one "p" 1.0
    let mutable s = Optimizers.init optimizer p
    for _ in 1 .. steps do
        let p', s' = Optimizers.step optimizer lr p s (one "p" 0.5)
        p <- p'
        s <- s'
    p.["p"].ToScalar()

// Expected values are the textbook update rules evaluated by hand for p = 1, g = 0.5.
[<Tests>]
let rules =
    testList "Training/optimizer rules by hand" [
        test "SGD: p − lr·g, with weight decay, momentum and Nesterov" {
            Check.close "plain" 1e-15 0.0 [| 0.95 |] [| run (Optimizer.Sgd SgdOptions.Default) 0.1 1 |]
            // d = g + 0.1·p = 0.6
            Check.close "weight decay" 1e-15 0.0 [| 0.94 |] [| run (Optimizer.Sgd { SgdOptions.Default with WeightDecay = 0.1 }) 0.1 1 |]
            // step 1: buf = g = 0.5 → p = 0.95; step 2: buf = 0.9·0.5 + 0.5 = 0.95 → p = 0.95 − 0.095
            Check.close "momentum" 1e-15 0.0 [| 0.855 |] [| run (Optimizer.Sgd { SgdOptions.Default with Momentum = 0.9 }) 0.1 2 |]
            // step 1: buf = 0.5, d = g + 0.9·buf = 0.95 → p = 1 − 0.095
            Check.close "nesterov" 1e-15 0.0 [| 0.905 |] [| run (Optimizer.Sgd { SgdOptions.Default with Momentum = 0.9; Nesterov = true }) 0.1 1 |]
        }
        test "Adam and AdamW: bias correction makes the first step lr·g/(|g| + ε)" {
            Check.close "Adam" 1e-15 0.0 [| 1.0 - 0.1 * 0.5 / (0.5 + 1e-8) |] [| run (Optimizer.Adam AdamOptions.Default) 0.1 1 |]
            // AdamW first decays p by (1 − lr·wd) = 0.999
            Check.close "AdamW" 1e-15 0.0 [| 0.999 - 0.1 * 0.5 / (0.5 + 1e-8) |] [| run (Optimizer.AdamW AdamOptions.DefaultW) 0.1 1 |]
            // step 2 with the same gradient: m̂ = g and v̂ = g² again, so the step is the same size
            Check.close "Adam, two steps" 1e-15 0.0 [| 1.0 - 2.0 * 0.1 * 0.5 / (0.5 + 1e-8) |] [| run (Optimizer.Adam AdamOptions.Default) 0.1 2 |]
        }
        test "RMSprop: v = (1 − α)·g², p − lr·g/(√v + ε)" {
            // v = 0.01·0.25 = 0.0025, √v = 0.05
            Check.close "plain" 1e-15 0.0 [| 1.0 - 0.01 * 0.5 / (0.05 + 1e-8) |] [| run (Optimizer.RmsProp RmsPropOptions.Default) 0.01 1 |]
            // centred: ḡ = 0.01·0.5 = 0.005, denominator √(0.0025 − 0.000025) + ε
            Check.close "centred" 1e-15 0.0 [| 1.0 - 0.01 * 0.5 / (sqrt (0.0025 - 0.000025) + 1e-8) |]
                [| run (Optimizer.RmsProp { RmsPropOptions.Default with Centered = true }) 0.01 1 |]
        }
        test "the state counts steps and names buffers after PyTorch" {
            let ps = one "w" 1.0
            let s = Optimizers.init (Optimizer.Adam AdamOptions.Default) ps
            Expect.equal s.Buffers.Names [| "exp_avg.w"; "exp_avg_sq.w" |] "buffer names"
            let _, s' = Optimizers.step (Optimizer.Adam AdamOptions.Default) 0.1 ps s (one "w" 0.5)
            Expect.equal s'.Step 1L "one step"
            Expect.equal (s.Buffers.["exp_avg.w"].ToArray()) [| 0.0 |] "the old state is untouched (pure update)"
        }
        test "bad hyper-parameters and mismatched gradients are rejected by name" {
            Check.throwsWith [ "Beta1" ] (fun () -> Optimizers.init (Optimizer.Adam { AdamOptions.Default with Beta1 = 1.0 }) (one "w" 1.0))
            Check.throwsWith [ "Nesterov" ] (fun () -> Optimizers.init (Optimizer.Sgd { SgdOptions.Default with Nesterov = true }) (one "w" 1.0))
            let ps = one "w" 1.0
            Check.throwsWith [ "names" ] (fun () -> Optimizers.step (Optimizer.Sgd SgdOptions.Default) 0.1 ps (Optimizers.init (Optimizer.Sgd SgdOptions.Default) ps) (one "v" 1.0))
        }
        for name, optimizer, lr in
            [ "SGD", Optimizer.Sgd SgdOptions.Default, 0.1
              "SGD momentum", Optimizer.Sgd { SgdOptions.Default with Momentum = 0.9 }, 0.05
              "Adam", Optimizer.Adam AdamOptions.Default, 0.05
              "AdamW", Optimizer.AdamW { AdamOptions.DefaultW with WeightDecay = 0.0 }, 0.05
              "RMSprop", Optimizer.RmsProp RmsPropOptions.Default, 0.01 ] do
            test (sprintf "%s minimises a quadratic" name) {
                let target = Tensor.OfArray [| 1.0; -2.0; 3.0 |]
                let loss (p: NamedTensors) = ((p.["x"] - target) ** 2.0).Sum()
                let mutable p = NamedTensors [| "x", Tensor.Zeros [| 3 |] |]
                let mutable s = Optimizers.init optimizer p
                for _ in 1 .. 2000 do
                    let p', s' = Optimizers.step optimizer lr p s (Ad.Named.grad loss p)
                    p <- p'
                    s <- s'
                // Adam-type steps keep a size of order lr near the optimum, so "close" is 0.05 here.
                Check.close "x" 0.0 0.05 (target.ToArray()) (p.["x"].ToArray())
            }
    ]

[<Tests>]
let clippingAndSchedules =
    testList "Training/clipping and schedules" [
        test "clipping by global norm scales by maxNorm/(norm + 1e-6); by value clamps" {
            let g = NamedTensors [| "a", Tensor.OfArray [| 3.0 |]; "b", Tensor.OfArray [| 4.0 |] |]
            let clipped, norm = Clipping.byGlobalNorm 1.0 g
            Expect.equal norm 5.0 "√(9 + 16)"
            Check.close "a" 1e-15 0.0 [| 3.0 / (5.0 + 1e-6) |] (clipped.["a"].ToArray())
            let same, _ = Clipping.byGlobalNorm 10.0 g
            Expect.equal (same.["b"].ToArray()) [| 4.0 |] "below the limit nothing changes"
            Expect.equal ((Clipping.byValue 3.5 g).["b"].ToArray()) [| 3.5 |] "clamped"
        }
        test "step and cosine schedules" {
            Expect.equal ([ 0L .. 4L ] |> List.map (Schedules.rate (Schedule.Step(1.0, 2, 0.5)))) [ 1.0; 1.0; 0.5; 0.5; 0.25 ] "step"
            // cos(π·2/4) = 0 → halfway; past the end the formula climbs back: cos(π·6/4) = 0 → halfway again
            Check.close "cosine" 1e-15 1e-16 [| 1.0; 0.5; 0.0; 0.5 |] ([| 0L; 2L; 4L; 6L |] |> Array.map (Schedules.rate (Schedule.Cosine(1.0, 4, 0.0))))
            Check.throwsWith [ "every" ] (fun () -> Schedules.validate (Schedule.Step(1.0, 0, 0.5)))
        }
    ]
