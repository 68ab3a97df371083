module RnnAd.FSharp.Tests.Nn.PyTorchFixtureTests

open System
open System.IO
open System.Text.Json
open RnnAd
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Tests

// The element-wise ops and losses against PyTorch 1.13's values and gradients on fixed inputs (kinks, ties,
// thresholds, tiny and large arguments), written by tests/fixtures/elementwise_ops.py into a committed JSON.
//
// Tolerance: |ours − PyTorch's| ≤ 1e-12·max + 1e-14 per entry. Both compute the same formulas in float64 with
// elementary functions within an ulp or two of each other: measured, all entries agree to a few ulps but
// ELU at x = −1e-3, 3e-14 relative apart because PyTorch 1.13 forms eˣ − 1 there where ours uses expm1.
// 1e-12 leaves room for that and for a differently ordered sum; the absolute 1e-14 covers values formed by
// cancellation, where an ulp of the cancelling terms is large next to the result (GELU's 1 + erf in the
// left tail).

type private Case =
    { Name: string
      Params: JsonElement
      Inputs: (string * Tensor) list
      Cotangent: float[]
      Output: float[]
      Grads: Map<string, float[]> }

let private floats (e: JsonElement) = [| for v in e.EnumerateArray() -> v.GetDouble() |]

let private cases =
    use doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "elementwise_ops.json")))
    [ for c in doc.RootElement.GetProperty("cases").EnumerateArray() ->
        let inputs = [ for p in c.GetProperty("inputs").EnumerateObject() ->
                         let shape = [| for d in p.Value.GetProperty("shape").EnumerateArray() -> d.GetInt32() |]
                         p.Name, Tensor.OfArray(shape, floats (p.Value.GetProperty "values")) ]
        { Name = c.GetProperty("name").GetString()
          Params = c.GetProperty("params").Clone()
          Inputs = inputs
          Cotangent = floats (c.GetProperty "cotangent")
          Output = floats (c.GetProperty "output")
          Grads = Map [ for g in c.GetProperty("grads").EnumerateObject() -> g.Name, floats g.Value ] } ]

/// RnnAd's op for a case, over its named inputs.
let private op (c: Case) : NamedTensors -> Tensor =
    let unary (f: Tensor -> Tensor) = fun (p: NamedTensors) -> f p.["x"]
    let loss (f: Tensor -> Tensor -> Tensor) = fun (p: NamedTensors) -> f p.["t"] p.["o"]
    let crossEntropy classWeights =
        let targets = [| for t in c.Params.GetProperty("targets").EnumerateArray() -> t.GetInt32() |]
        fun (p: NamedTensors) -> Losses.crossEntropy classWeights None targets p.["z"]
    match c.Name with
    | "sin" -> unary sin
    | "cos" -> unary cos
    | "log1p" -> unary (fun x -> x.Log1p())
    | "expm1" -> unary (fun x -> x.Expm1())
    | "erf" -> unary (fun x -> x.Erf())
    | "reciprocal" -> unary (fun x -> x.Reciprocal())
    | "square" -> unary (fun x -> x.Square())
    | "softplus" -> unary Nn.softplus
    | "gelu" -> unary Nn.gelu
    | "silu" -> unary Nn.silu
    | "sign" -> unary (fun x -> x.Sign())
    | "relu" -> unary Nn.relu
    | "elu" -> unary (Nn.elu 1.3)
    | "leakyRelu" -> unary (Nn.leakyRelu 0.1)
    | "maximum" -> fun p -> Tensor.Maximum(p.["a"], p.["b"])
    | "minimum" -> fun p -> Tensor.Minimum(p.["a"], p.["b"])
    | "pow" -> fun p -> p.["a"] ** p.["b"]
    | "meanSquaredError" -> loss (Losses.meanSquaredError None)
    | "meanAbsoluteError" -> loss (Losses.meanAbsoluteError None)
    | "huber" -> loss (Losses.huber (c.Params.GetProperty("delta").GetDouble()) None)
    | "binaryCrossEntropyWithLogits" -> loss (Losses.binaryCrossEntropyWithLogits None)
    | "crossEntropy" -> crossEntropy None
    | "crossEntropyClassWeighted" -> crossEntropy (Some (floats (c.Params.GetProperty "classWeights")))
    | other -> failtestf "the fixture has a case %s that this test does not know" other

[<Tests>]
let tests =
    testList "Nn/PyTorch 1.13 fixture" [
        yield test "the fixture holds every case" {
            Expect.equal (List.length cases) 23 "cases in elementwise_ops.json"
        }
        for c in cases do
            yield test c.Name {
                let f = op c
                let ps = NamedTensors(Array.ofList c.Inputs)
                let y, pull = Ad.Named.vjp f ps
                Check.close (c.Name + " value") 1e-12 1e-14 c.Output (y.ToArray())
                let g = pull (Tensor.OfArray(y.Shape, c.Cotangent))
                for name, expected in Map.toList c.Grads do
                    Check.close (sprintf "%s ∂/∂%s" c.Name name) 1e-12 1e-14 expected (g.[name].ToArray())
            }
    ]
