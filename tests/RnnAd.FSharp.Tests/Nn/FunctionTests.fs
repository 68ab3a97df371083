module RnnAd.FSharp.Tests.Nn.FunctionTests

open System
open RnnAd
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Tests

// Log-softmax, softmax and cross-entropy at logits near ±1e6, against values computed in exact arithmetic
// (`Exact`). The shift by the row's maximum is exact there, so what is left is the log of a sum of a few
// exponentials, each within an ulp: 4e-16 relative (two ulps) bounds the results. Subtracting a log-sum-exp
// rounded at 1e6 (its ulp is 1.2e-10) instead misses by up to 6e-11 absolute, 1e-10 relative.

/// Rows of logits near 1e6 and −1e6, all exactly representable: each row's offsets from its first entry
/// are what the log-softmax sees.
let private rows = [| [| 1e6; 1e6 + 1.0; 1e6 + 2.0 |]; [| -1e6; -1e6 - 0.5; -1e6 + 3.0 |] |]

/// log softmax of a row, exactly: z_i − m − ln Σ_j e^(z_j − m), with m the row's maximum.
let private exactLogSoftmax (row: float[]) =
    let m = Array.max row
    let shifted = row |> Array.map (fun z -> Exact.ofFloat (z - m)) // exact: the offsets are small integers and halves
    let logSum = Exact.log (shifted |> Array.sumBy Exact.exp)
    shifted |> Array.map (fun s -> s - logSum)

let private expectedLogSoftmax = rows |> Array.collect (exactLogSoftmax >> Array.map Exact.toFloat)

[<Tests>]
let tests =
    testList "Nn/softmax and cross-entropy at large logits" [
        test "log-softmax keeps full relative accuracy at logits near ±1e6, along either dimension" {
            let z = Tensor.OfArray rows
            Check.close "along the last dimension" 4e-16 0.0 expectedLogSoftmax ((Nn.logSoftmax -1 z).ToArray())
            Check.close "along dimension 0 of the transpose" 4e-16 0.0 expectedLogSoftmax ((Nn.logSoftmax 0 z.T).T.ToArray())
        }
        test "softmax likewise: the exponentials of the log-softmax" {
            // e^y for y within 2 ulps: another ulp from exp, 6e-16 relative.
            Check.close "softmax" 6e-16 0.0 (expectedLogSoftmax |> Array.map Math.Exp) ((Nn.softmax -1 (Tensor.OfArray rows)).ToArray())
        }
        test "cross-entropy at logits near ±1e6, fused and composite, plain and weighted" {
            let z = Tensor.OfArray rows
            let targets = [| 0; 1 |]
            let exact = rows |> Array.mapi (fun r row -> -(exactLogSoftmax row).[targets.[r]])
            let mean = Exact.toFloat ((exact.[0] + exact.[1]) / Numerics.BigInteger 2)
            // weights 1 and 3: (ℓ₀ + 3ℓ₁)/4
            let weighted = Exact.toFloat ((exact.[0] + Numerics.BigInteger 3 * exact.[1]) / Numerics.BigInteger 4)
            let fused w = Ad.valueAndGrad (fun z -> Nn.crossEntropyWeighted Reduction.Mean w targets z) z |> fst
            // forward mode cannot take the fused op: it runs the composite
            let composite w = Ad.jvp (fun z -> Nn.crossEntropyWeighted Reduction.Mean w targets z) z (Tensor.Zeros z.Shape) |> fst
            for name, value, expected in [ "fused", fused None, mean; "composite", composite None, mean
                                           "fused weighted", fused (Some [| 1.0; 3.0 |]), weighted
                                           "composite weighted", composite (Some [| 1.0; 3.0 |]), weighted ] do
                Check.close name 4e-16 0.0 [| expected |] (value.ToArray())
        }
        test "the composite cross-entropy ignores padded positions' NaN logits, in value and tangent" {
            let clean = Check.uniform 1 -2.0 2.0 [| 3; 4 |]
            let dirty = Tensor.Concat([ clean.Slice(0, 0, 2); Tensor.Full([| 1; 4 |], nan) ], 0)
            let weights = Some [| 1.0; 2.0; 0.0 |]
            let targets = [| 1; 3; 0 |]
            let v = Check.uniform 2 -1.0 1.0 [| 3; 4 |]
            let run (z: Tensor) = Ad.jvp (fun z -> Nn.crossEntropyWeighted Reduction.Mean weights targets z) z v
            let yClean, tClean = run clean
            let yDirty, tDirty = run dirty
            // The padded row is replaced by selection before anything reads it: the same bits as with finite logits.
            Expect.equal (yDirty.ToArray()) (yClean.ToArray()) "value"
            Expect.equal (tDirty.ToArray()) (tClean.ToArray()) "tangent"
            // and the fused path agrees to rounding (1e-13, as the fused-op tests)
            let fused = Nn.crossEntropyWeighted Reduction.Mean weights targets dirty
            Check.close "fused value" 1e-13 0.0 (yClean.ToArray()) (fused.ToArray())
        }
        test "the Nn activations are the Tensor members" {
            let x = Check.uniform 3 -3.0 3.0 [| 7 |]
            for name, viaNn, viaMember in [ "leakyRelu", Nn.leakyRelu 0.2 x, x.LeakyRelu 0.2; "elu", Nn.elu 0.7 x, x.Elu 0.7
                                            "softplus", Nn.softplus x, x.Softplus(); "silu", Nn.silu x, x.Silu()
                                            "gelu", Nn.gelu x, x.Gelu() ] do
                Expect.equal (viaNn.ToArray()) (viaMember.ToArray()) name
        }
    ]
