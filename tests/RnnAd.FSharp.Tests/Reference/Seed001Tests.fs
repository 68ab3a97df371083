module RnnAd.FSharp.Tests.Reference.Seed001Tests

open RnnAd
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Reference
open RnnAd.FSharp.Tests
open RnnAd.FSharp.Tests.Reference.Cases

// Seed 001's network exactly: the four symbols h, e, l, o one-hot, input "hell", targets "ello", an Elman tanh
// RNN and a linear layer at every step, hidden 3 (whose failure the seed blames on vanishing gradients, though
// its code trains against the wrong targets: see examples/RnnAd.Examples/Seed001.fs) and 6. Weights are standard normal, as the seed's np.random.randn. Three computations must agree: AD, the
// reference BPTT, and the seed's own hand-derived algorithm, transcribed below on plain arrays.

let private symbols = "helo"
let private encode (text: string) = text |> Seq.map (fun c -> symbols.IndexOf c) |> Array.ofSeq

let private spec hidden : ModelSpec =
    { Cell = Cells.rnnTanh
      Input = InputEncoding.OneHot 4
      HiddenSize = hidden
      Layers = 1
      Bidirectional = false
      Dropout = 0.0
      Head = HeadKind.PerStep
      HeadHidden = []
      Outputs = 4; Loss = Loss.crossEntropy }

let private batch = { Input = SequenceInput.Tokens(encode "hell"); Batch = 1; Time = 4; Mask = None; Targets = Targets.Classes(encode "ello") }

let private normalParams (s: ModelSpec) (seed: int) =
    SequenceModel.expectedShapes s |> Array.map (fun (name, shape) -> name, Tensor.RandomNormal(RnnAd.FSharp.Storage.Seed.derive seed name, shape)) |> NamedTensors

/// The seed's loss_gradient: for every step t_s, the error at t_s is sent back through every earlier step i
/// (the O(T²) double loop of the notebook), with h_i = tanh(x_i·Wxh + h_{i−1}·Whh + Bh) and pred = softmax(h·Wy + By).
/// Two adaptations to RnnAd's model, which change no algebra: the seed's scalar biases become one per unit
/// (b_ih + b_hh in PyTorch's layout, so both get the same gradient), and its summed loss becomes the mean over
/// the four steps (every gradient divided by 4). Returns (dWxh, dWhh, dBh, dWy, dBy) in the seed's layout.
let private seedGradient (wxh: float[,]) (whh: float[,]) (bh: float[]) (wy: float[,]) (by: float[]) (xs: int[]) (ys: int[]) =
    let steps, hidden, classes = xs.Length, whh.GetLength 0, by.Length
    // Forward: pre.[i] = x_i·Wxh + h_{i−1}·Whh + Bh, hs.[i + 1] = tanh(pre.[i]) (hs.[0] = h_{−1} = 0), pred.[i] = softmax(h_i·Wy + By).
    let pre = Array.zeroCreate steps
    let hs = Array.init (steps + 1) (fun _ -> Array.zeroCreate hidden)
    let pred = Array.zeroCreate steps
    for i in 0 .. steps - 1 do
        pre.[i] <- Array.init hidden (fun j -> wxh.[xs.[i], j] + Array.sum (Array.init hidden (fun m -> hs.[i].[m] * whh.[m, j])) + bh.[j])
        hs.[i + 1] <- Array.map tanh pre.[i]
        let z = Array.init classes (fun c -> Array.sum (Array.init hidden (fun m -> hs.[i + 1].[m] * wy.[m, c])) + by.[c])
        let e = z |> Array.map (fun v -> exp (v - Array.max z))
        pred.[i] <- e |> Array.map (fun v -> v / Array.sum e)
    let dWxh, dWhh, dBh = Array2D.zeroCreate 4 hidden, Array2D.zeroCreate hidden hidden, Array.zeroCreate hidden
    let dWy, dBy = Array2D.zeroCreate hidden classes, Array.zeroCreate classes
    for ts in steps - 1 .. -1 .. 0 do
        let dPred = Array.init classes (fun c -> pred.[ts].[c] - (if c = ys.[ts] then 1.0 else 0.0))
        for m in 0 .. hidden - 1 do
            for c in 0 .. classes - 1 do
                dWy.[m, c] <- dWy.[m, c] + hs.[ts + 1].[m] * dPred.[c]
        for c in 0 .. classes - 1 do
            dBy.[c] <- dBy.[c] + dPred.[c]
        let mutable dPre = Array.empty
        for i in ts .. -1 .. 0 do
            // dE/dh_i = dPred·Wyᵀ at i = t_s, else dE/dpre_{i+1}·Whhᵀ; dE/dpre_i = dE/dh_i ⊙ (1 − tanh²(pre_i)).
            let dH =
                if i = ts then Array.init hidden (fun m -> Array.sum (Array.init classes (fun c -> dPred.[c] * wy.[m, c])))
                else Array.init hidden (fun m -> Array.sum (Array.init hidden (fun j -> dPre.[j] * whh.[m, j])))
            dPre <- Array.init hidden (fun j -> dH.[j] * (1.0 - tanh pre.[i].[j] ** 2.0))
            for j in 0 .. hidden - 1 do
                dWxh.[xs.[i], j] <- dWxh.[xs.[i], j] + dPre.[j]
                dBh.[j] <- dBh.[j] + dPre.[j]
                for m in 0 .. hidden - 1 do
                    dWhh.[m, j] <- dWhh.[m, j] + hs.[i].[m] * dPre.[j]
    let mean (a: float[,]) = Array2D.map (fun v -> v / float steps) a
    mean dWxh, mean dWhh, Array.map (fun v -> v / float steps) dBh, mean dWy, Array.map (fun v -> v / float steps) dBy

/// A (rows, cols) tensor as a 2-D array, transposed: PyTorch's W (out, in) is the seed's (in, out).
let private transposed (t: Tensor) = let v = t.ToArray() in Array2D.init t.Shape.[1] t.Shape.[0] (fun i j -> v.[j * t.Shape.[1] + i])
let private flatTransposed (a: float[,]) = Array.init a.Length (fun k -> a.[k % a.GetLength 0, k / a.GetLength 0])

[<Tests>]
let tests =
    testList "Reference/seed 001 hell → ello" [
        for hidden in [ 3; 6 ] do
            for seed in [ 230912; 1; 2 ] do
                test (sprintf "hidden %d, weights seed %d: AD = BPTT = the seed's hand gradient" hidden seed) {
                    let s = spec hidden
                    let ps = normalParams s seed
                    let adLoss, ad = adGradients s ps RunOptions.Default batch
                    let bpttLoss, bptt = Bptt.lossAndGradients s ps None batch
                    Expect.floatClose { absolute = 0.0; relative = 1e-12 } bpttLoss adLoss "losses agree"
                    expectPass "AD vs BPTT" (GradientReport.compare "AD" "BPTT" GradientTolerance.AdVsBptt ad bptt)
                    let bh = Array.map2 (+) (ps.["rnn.bias_ih_l0"].ToArray()) (ps.["rnn.bias_hh_l0"].ToArray())
                    let dWxh, dWhh, dBh, dWy, dBy =
                        seedGradient (transposed ps.["rnn.weight_ih_l0"]) (transposed ps.["rnn.weight_hh_l0"]) bh
                                     (transposed ps.["fc.weight"]) (ps.["fc.bias"].ToArray()) (encode "hell") (encode "ello")
                    let byHand =
                        NamedTensors [| "rnn.weight_ih_l0", Tensor.OfArray([| hidden; 4 |], flatTransposed dWxh)
                                        "rnn.weight_hh_l0", Tensor.OfArray([| hidden; hidden |], flatTransposed dWhh)
                                        "rnn.bias_ih_l0", Tensor.OfArray([| hidden |], dBh)
                                        "rnn.bias_hh_l0", Tensor.OfArray([| hidden |], dBh)
                                        "fc.weight", Tensor.OfArray([| 4; hidden |], flatTransposed dWy)
                                        "fc.bias", Tensor.OfArray([| 4 |], dBy) |]
                    // The seed's double loop sums the same terms in another order: docs/ARCHITECTURE.md §7.2's 1e-10 applies.
                    expectPass "AD vs the seed's algorithm" (GradientReport.compare "AD" "seed 001" GradientTolerance.AdVsBptt ad byHand)
                    expectPass "BPTT vs the seed's algorithm" (GradientReport.compare "BPTT" "seed 001" GradientTolerance.AdVsBptt bptt byHand)
                }
    ]
