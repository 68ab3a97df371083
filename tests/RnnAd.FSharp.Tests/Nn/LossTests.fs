module RnnAd.FSharp.Tests.Nn.LossTests

open System
open RnnAd
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Tests

// Losses: values worked out by hand on tiny inputs, gradients against centred finite differences, padded
// positions that hold NaN, cross-entropy without class weights bit for bit Nn's, and the errors.

let private vector (values: float list) = Tensor.OfArray(Array.ofList values)

/// The element-wise losses, as (name, loss weights targets outputs).
let private elementwiseLosses : (string * (float[] option -> Tensor -> Tensor -> Tensor)) list =
    [ "meanSquaredError", Losses.meanSquaredError
      "meanAbsoluteError", Losses.meanAbsoluteError
      "huber", Losses.huber 0.3
      "binaryCrossEntropyWithLogits", Losses.binaryCrossEntropyWithLogits ]

[<Tests>]
let values =
    testList "Nn/losses: values by hand" [
        // outputs [[1, 2], [3, 5]] against targets [[0, 2], [1, 1]]: d = o − t = [[1, 0], [2, 4]]
        let o = Tensor.OfArray [| [| 1.0; 2.0 |]; [| 3.0; 5.0 |] |]
        let t = Tensor.OfArray [| [| 0.0; 2.0 |]; [| 1.0; 1.0 |] |]
        yield test "mean squared error" {
            // (1 + 0 + 4 + 16)/4 = 5.25; weights [1, 0]: (1 + 0)/(1·2) = 0.5; weights [2, 1]: (2·1 + 20)/(3·2) = 11/3
            Expect.equal ((Losses.meanSquaredError None t o).ToScalar()) 5.25 "unweighted"
            Expect.equal ((Losses.meanSquaredError (Some [| 1.0; 0.0 |]) t o).ToScalar()) 0.5 "second row padded"
            Expect.equal ((Losses.meanSquaredError (Some [| 2.0; 1.0 |]) t o).ToScalar()) (22.0 / 6.0) "weighted"
        }
        yield test "mean absolute error" {
            // (1 + 0 + 2 + 4)/4 = 1.75; weights [1, 0]: (1 + 0)/2 = 0.5
            Expect.equal ((Losses.meanAbsoluteError None t o).ToScalar()) 1.75 "unweighted"
            Expect.equal ((Losses.meanAbsoluteError (Some [| 1.0; 0.0 |]) t o).ToScalar()) 0.5 "second row padded"
        }
        yield test "huber, δ = 1.5" {
            // |d| = 1 < δ: 1²/2 = 0.5; 0: 0; 2 ≥ δ: 1.5·(2 − 0.75) = 1.875; 4: 1.5·(4 − 0.75) = 4.875 → 7.25/4
            Expect.equal ((Losses.huber 1.5 None t o).ToScalar()) 1.8125 "unweighted"
            // at |d| = δ both branches give δ²/2 = 1.125
            Expect.equal ((Losses.huber 1.5 None (Tensor.Scalar 0.0) (Tensor.Scalar 1.5)).ToScalar()) 1.125 "at the joint"
        }
        yield test "binary cross-entropy with logits" {
            // z = [0, 2, −3], y = [1, ¼, 0]; ℓ = max(z, 0) − z·y + ln(1 + e^(−|z|)):
            // ℓ₀ = ln 2 = 0.69314718055994531, ℓ₁ = 2 − ½ + ln(1 + e⁻²) = 1.6269280110429725,
            // ℓ₂ = ln(1 + e⁻³) = 0.048587351573742059; mean 0.78955418105888662.
            // Tolerance 4e-16: three log1p and exp within an ulp each, and a sum.
            let y = vector [ 1.0; 0.25; 0.0 ]
            let v, g = Ad.valueAndGrad (Losses.binaryCrossEntropyWithLogits None y) (vector [ 0.0; 2.0; -3.0 ])
            Check.close "mean" 4e-16 0.0 [| 0.78955418105888662 |] (v.ToArray())
            // ∂/∂z = (σ(z) − y)/3, also at z = 0 where max(z, 0) shares its tie: [(½ − 1)/3, (σ(2) − ¼)/3, σ(−3)/3]
            // = [−1/6, 0.21026569265929415, 0.015808624392522260]
            Check.close "gradient" 4e-16 0.0 [| -1.0 / 6.0; 0.21026569265929415; 0.015808624392522260 |] (g.ToArray())
        }
        yield test "cross-entropy, with and without class weights" {
            // Row 0: z = [0, ln 2, ln 5], e^z = [1, 2, 5], Σ 8, target 2: ℓ₀ = ln(8/5) = 0.47000362924573555.
            // Row 1: z = [ln 3, 0, 0], e^z = [3, 1, 1], Σ 5, target 0: ℓ₁ = ln(5/3) = 0.51082562376599068.
            // Mean: 0.49041462650586312. Class weights c = [2, 1, ½]: (½·ℓ₀ + 2·ℓ₁)/(½ + 2) = 0.50266122486193966.
            // Position weights [1, 0] leave ℓ₀ whatever the class weights. Tolerance 1e-15: ln 2, ln 3 and ln 5
            // enter rounded (1e-16 relative) and a few roundings follow.
            let z = Tensor.OfArray [| [| 0.0; log 2.0; log 5.0 |]; [| log 3.0; 0.0; 0.0 |] |]
            let targets = [| 2; 0 |]
            let c = Some [| 2.0; 1.0; 0.5 |]
            Check.close "mean" 1e-15 0.0 [| 0.49041462650586312 |] ((Losses.crossEntropy None None targets z).ToArray())
            Check.close "class weighted" 1e-15 0.0 [| 0.50266122486193966 |] ((Losses.crossEntropy c None targets z).ToArray())
            Check.close "row 1 padded" 1e-15 0.0 [| 0.47000362924573555 |] ((Losses.crossEntropy c (Some [| 1.0; 0.0 |]) targets z).ToArray())
        }
        yield test "all weights 1 is the plain mean, bit for bit" {
            let o, t = Check.uniform 1 -1.0 1.0 [| 3; 4 |], Check.uniform 2 0.0 1.0 [| 3; 4 |]
            for name, loss in elementwiseLosses do
                Expect.equal ((loss (Some [| 1.0; 1.0; 1.0 |]) t o).ToArray()) ((loss None t o).ToArray()) name
        }
    ]

/// Centred finite differences of each input of a scalar function of named tensors.
let private expectGradientsMatchFiniteDifferences (name: string) (loss: NamedTensors -> Tensor) (ps: NamedTensors) =
    let g = Ad.Named.grad loss ps
    ps.Names |> Array.iteri (fun i n ->
        let fd = Check.finiteDifference (fun xs -> (loss (NamedTensors(Array.zip ps.Names xs))).ToScalar()) ps.Tensors i
        // As OpGradientTests: 1e-6 relative for h = 1e-6 (truncation ~1e-12, rounding ~ε·|L|/h ≈ 1e-10), and
        // 1e-8 absolute for entries whose gradient is 0 (padded positions).
        Check.close (sprintf "%s ∂/∂%s" name n) 1e-6 1e-8 fd (g.[n].ToArray()))

[<Tests>]
let gradients =
    testList "Nn/losses: gradients vs finite differences" [
        let weights = Some [| 1.0; 0.0; 2.0; 1.0; 1.0; 0.5 |]
        for name, loss in elementwiseLosses do
            for w in [ None; weights ] do
                yield test (sprintf "%s, weights %b" name w.IsSome) {
                    // random o − t is almost surely farther than the step (2e-6) from the L1 and Huber kinks
                    // (d = 0, |d| = 0.3); a seed that put one there would fail every time, not now and then
                    // targets inside (0, 1) by a margin, so that the steps keep them in BCE's range
                    let ps = NamedTensors [| "targets", Check.uniform 3 0.05 0.95 [| 2; 3; 4 |]; "outputs", Check.uniform 4 -2.0 2.0 [| 2; 3; 4 |] |]
                    expectGradientsMatchFiniteDifferences name (fun p -> loss w p.["targets"] p.["outputs"]) ps
                }
        for c in [ None; Some [| 1.0; 0.5; 2.0; 0.0; 3.0 |] ] do
            for w in [ None; weights ] do
                yield test (sprintf "crossEntropy, class weights %b, weights %b" c.IsSome w.IsSome) {
                    let targets = [| 0; 4; 2; 3; 1; 2 |]
                    let ps = NamedTensors [| "logits", Check.uniform 5 -3.0 3.0 [| 2; 3; 5 |] |]
                    expectGradientsMatchFiniteDifferences "crossEntropy" (fun p -> Losses.crossEntropy c w targets p.["logits"]) ps
                }
    ]

[<Tests>]
let padding =
    testList "Nn/losses: padded positions contribute nothing, NaN included" [
        let weights = Some [| 1.0; 0.0; 2.0 |]
        /// Row 1 of a (3, 4) tensor replaced by `value`.
        let poison (value: float) (x: Tensor) = Tensor.Concat([ x.Slice(0, 0, 1); Tensor.Full([| 1; 4 |], value); x.Slice(0, 2, 1) ], 0)
        let targets, outputs = Check.uniform 6 0.0 1.0 [| 3; 4 |], Check.uniform 7 -2.0 2.0 [| 3; 4 |]
        for name, loss in elementwiseLosses do
            yield test name {
                let run (t: Tensor) (o: Tensor) = Ad.Named.valueAndGrad (fun p -> loss weights p.["t"] p.["o"]) (NamedTensors [| "t", t; "o", o |])
                let v, g = run targets outputs
                for bad in [ nan; infinity; -infinity ] do
                    // NaN or ±∞ targets would also be refused by BCE's range check if the row counted
                    let vBad, gBad = run (poison bad targets) (poison bad outputs)
                    Expect.equal (vBad.ToArray()) (v.ToArray()) (sprintf "value with %g in the padded row" bad)
                    Expect.equal (gBad.["o"].ToArray()) (g.["o"].ToArray()) "∂/∂outputs"
                    Expect.equal (gBad.["t"].ToArray()) (g.["t"].ToArray()) "∂/∂targets"
                    Expect.equal (gBad.["o"].ToArray().[4 .. 7]) (Array.zeroCreate 4) "the padded row's gradient is 0"
            }
        for c in [ None; Some [| 1.0; 2.0; 0.5; 1.0 |] ] do
            yield test (sprintf "crossEntropy, class weights %b, reverse (fused) and forward (composite) modes" c.IsSome) {
                let logits = Check.uniform 8 -2.0 2.0 [| 3; 4 |]
                let targets = [| 1; 3; 0 |]
                let loss (z: Tensor) = Losses.crossEntropy c weights targets z
                let v, g = Ad.valueAndGrad loss logits
                let direction = Check.uniform 9 -1.0 1.0 [| 3; 4 |]
                let _, t = Ad.jvp loss logits direction
                for bad in [ nan; infinity ] do
                    let vBad, gBad = Ad.valueAndGrad loss (poison bad logits)
                    Expect.equal (vBad.ToArray()) (v.ToArray()) "value"
                    Expect.equal (gBad.ToArray()) (g.ToArray()) "gradient"
                    let _, tBad = Ad.jvp loss (poison bad logits) direction
                    Expect.equal (tBad.ToArray()) (t.ToArray()) "tangent"
            }
    ]

[<Tests>]
let crossEntropyIsNns =
    testList "Nn/losses: cross-entropy without class weights is Nn's" [
        for w in [ None; Some [| 1.0; 0.0; 3.0; 1.0; 1.0; 0.0 |] ] ->
            test (sprintf "weights %b: the same value and gradient bits" w.IsSome) {
                let logits = Check.uniform 10 -4.0 4.0 [| 2; 3; 7 |]
                let targets = [| 6; 0; 3; 3; 1; 5 |]
                let v1, g1 = Ad.valueAndGrad (Losses.crossEntropy None w targets) logits
                let v2, g2 = Ad.valueAndGrad (Nn.crossEntropyWeighted Reduction.Mean w targets) logits
                Expect.equal (v1.ToArray()) (v2.ToArray()) "value"
                Expect.equal (g1.ToArray()) (g2.ToArray()) "gradient"
            }
    ]

[<Tests>]
let errors =
    testList "Nn/losses: errors name the argument at fault" [
        let o = Tensor.Zeros [| 2; 3 |]
        yield test "targets of another shape" {
            Check.throwsWith [ "meanSquaredError"; "(3, 2)"; "(2, 3)" ] (fun () -> Losses.meanSquaredError None (Tensor.Zeros [| 3; 2 |]) o)
        }
        yield test "weights: length, sign, finiteness, a zero sum" {
            Check.throwsWith [ "huber"; "3 weights"; "2 positions"; "(2, 3)" ] (fun () -> Losses.huber 1.0 (Some [| 1.0; 1.0; 1.0 |]) o o)
            Check.throwsWith [ "weight -1"; "position 1" ] (fun () -> Losses.meanAbsoluteError (Some [| 1.0; -1.0 |]) o o)
            Check.throwsWith [ "weight NaN"; "position 0" ] (fun () -> Losses.meanAbsoluteError (Some [| nan; 1.0 |]) o o)
            Check.throwsWith [ "weight Infinity"; "position 1" ] (fun () -> Losses.meanAbsoluteError (Some [| 1.0; infinity |]) o o)
            Check.throwsWith [ "weight 0"; "undefined" ] (fun () -> Losses.meanSquaredError (Some [| 0.0; 0.0 |]) o o)
            Check.throwsWith [ "empty" ] (fun () -> Losses.meanSquaredError None (Tensor.Zeros [| 0; 3 |]) (Tensor.Zeros [| 0; 3 |]))
        }
        yield test "huber's δ" {
            Check.throwsWith [ "delta"; "got 0" ] (fun () -> Losses.huber 0.0 None o o)
            Check.throwsWith [ "delta"; "got -1" ] (fun () -> Losses.huber -1.0 None o o)
            Check.throwsWith [ "delta"; "got NaN" ] (fun () -> Losses.huber nan None o o)
        }
        yield test "binary cross-entropy's targets outside [0, 1], where counted" {
            Check.throwsWith [ "target 1.5"; "index 4"; "[0, 1]" ] (fun () -> Losses.binaryCrossEntropyWithLogits None (Tensor.OfArray([| 2; 3 |], [| 0.; 1.; 0.; 0.; 1.5; 0. |])) o)
            Check.throwsWith [ "target NaN" ] (fun () -> Losses.binaryCrossEntropyWithLogits None (Tensor.Full([| 2; 3 |], nan)) o)
            // the same target in a padded row is never read
            Losses.binaryCrossEntropyWithLogits (Some [| 1.0; 0.0 |]) (Tensor.OfArray([| 2; 3 |], [| 0.; 1.; 0.; 0.; 1.5; 0. |])) o |> ignore
        }
        yield test "cross-entropy: targets, class indices, class weights" {
            let z = Tensor.Zeros [| 2; 3 |]
            Check.throwsWith [ "3 targets"; "(2, 3)"; "2 positions" ] (fun () -> Losses.crossEntropy None None [| 0; 1; 2 |] z)
            Check.throwsWith [ "target 3"; "position 1"; "[0, 3)" ] (fun () -> Losses.crossEntropy None None [| 0; 3 |] z)
            Check.throwsWith [ "target -1"; "position 0" ] (fun () -> Losses.crossEntropy (Some [| 1.0; 1.0; 1.0 |]) None [| -1; 0 |] z)
            Check.throwsWith [ "2 class weights"; "3 classes" ] (fun () -> Losses.crossEntropy (Some [| 1.0; 1.0 |]) None [| 0; 1 |] z)
            Check.throwsWith [ "class weight -2"; "class 1" ] (fun () -> Losses.crossEntropy (Some [| 1.0; -2.0; 1.0 |]) None [| 0; 1 |] z)
            Check.throwsWith [ "3 weights"; "2 positions" ] (fun () -> Losses.crossEntropy (Some [| 1.0; 1.0; 1.0 |]) (Some [| 1.0; 1.0; 1.0 |]) [| 0; 1 |] z)
            // class weight 0 on both targets: nothing counts
            Check.throwsWith [ "class weight"; "undefined" ] (fun () -> Losses.crossEntropy (Some [| 0.0; 0.0; 1.0 |]) None [| 0; 1 |] z)
        }
    ]
