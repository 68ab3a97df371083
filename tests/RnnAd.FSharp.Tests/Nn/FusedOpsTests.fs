module RnnAd.FSharp.Tests.Nn.FusedOpsTests

open RnnAd
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Tests

// The fused linear layer and cross-entropy against the composites they replace, in value and gradient.
// Same algebra, other summation order: 1e-13 relative plus 1e-15 absolute, a few hundred ulps of headroom.

let private compare (name: string) (fused: NamedTensors -> Tensor) (composite: NamedTensors -> Tensor) (ps: NamedTensors) =
    let vf, gf = Ad.Named.valueAndGrad fused ps
    let vc, gc = Ad.Named.valueAndGrad composite ps
    Check.close (name + " value") 1e-13 1e-15 (vc.ToArray()) (vf.ToArray())
    for n in ps.Names do
        Check.close (sprintf "%s ∂/∂%s" name n) 1e-13 1e-15 (gc.[n].ToArray()) (gf.[n].ToArray())

[<Tests>]
let tests =
    testList "Nn/fused linear and cross-entropy" [
        test "linear on a (batch, time, in) input equals matmul + bias" {
            let ps = NamedTensors [| "x", Check.uniform 1 -1.0 1.0 [| 3; 4; 5 |]; "w", Check.uniform 2 -1.0 1.0 [| 6; 5 |]; "b", Check.uniform 3 -1.0 1.0 [| 6 |] |]
            let weights = Check.uniform 4 -1.0 1.0 [| 3; 4; 6 |]
            compare "linear"
                (fun p -> (FusedOps.linear p.["w"] p.["b"] p.["x"] * weights).Sum())
                (fun p -> ((Tensor.MatMul(p.["x"], p.["w"], transB = true) + p.["b"]) * weights).Sum())
                ps
        }
        for reduction, weighted in [ Reduction.Mean, false; Reduction.Mean, true; Reduction.Sum, true ] do
            test (sprintf "cross-entropy (%A, weights %b) equals log-softmax + pick + reduce" reduction weighted) {
                let logits = Check.uniform 5 -3.0 3.0 [| 2; 5; 7 |]
                let targets = [| 0; 6; 3; 3; 1; 2; 5; 4; 0; 6 |]
                let w = if weighted then Some [| 1.; 1.; 1.; 0.; 0.; 1.; 1.; 1.; 1.; 0. |] else None
                let count = match w with Some ws -> Array.sum ws | None -> 10.0
                let scale = if reduction = Reduction.Sum then 1.0 else count
                let composite (p: NamedTensors) =
                    let picked = (Nn.logSoftmax -1 p.["z"]).GatherLast targets
                    let nll = match w with Some ws -> -(picked * Tensor.OfArray(picked.Shape, ws)).Sum() | None -> -picked.Sum()
                    nll / scale
                compare "cross-entropy" (fun p -> FusedOps.crossEntropy scale w targets p.["z"]) composite (NamedTensors [| "z", logits |])
            }
    ]
