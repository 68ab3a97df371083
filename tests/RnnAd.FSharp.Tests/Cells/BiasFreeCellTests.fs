module RnnAd.FSharp.Tests.Cells.BiasFreeCellTests

open System
open System.IO
open System.Text.Json
open Expecto
open RnnAd
open RnnAd.FSharp
open RnnAd.FSharp.Storage
open RnnAd.FSharp.Tests

// The built-in cells without biases, PyTorch's bias=False: their layout and how they are named and found,
// the fused path against the biased cell with zero biases (to the bit), and PyTorch 1.13's own bias-free
// nn.RNN, nn.LSTM and nn.GRU (tests/fixtures/bias_free_cells.py). Their fused kernels pass the contract check
// in FusedSequenceTests; AD against finite differences and the hand-derived BPTT is in Reference/BiasFreeTests.

let private kinds = [ CellKind.RnnTanh; CellKind.RnnRelu; CellKind.Lstm; CellKind.Gru ]

/// Every float's bits: a comparison that tells −0 from +0 and would not pass NaN for NaN by accident.
let private bits (t: Tensor) = t.ToArray() |> Array.map BitConverter.DoubleToInt64Bits

[<Tests>]
let naming =
    testList "Cells/bias-free cells, layout and names" [
        for kind in kinds do
            test (sprintf "%s: parameters weight_ih and weight_hh only, the mode's name, and tryBuiltIn tells it apart" kind.Name) {
                let cell = Cells.withoutBias kind
                let shapes = Cell.parameterShapes cell 3 5
                Expect.equal (shapes |> Array.map fst) [| "weight_ih"; "weight_hh" |] "no bias_ih, no bias_hh"
                Expect.equal (shapes |> Array.map snd) [| [| kind.Gates * 5; 3 |]; [| kind.Gates * 5; 5 |] |] "PyTorch's shapes"
                Expect.equal cell.Name kind.Name "PyTorch's mode name, as for the biased cell"
                Expect.equal (Cells.tryBuiltIn cell) (Some { Kind = kind; Bias = false }) "the bias flag is what tells the two apart"
                Expect.equal (Cells.tryBuiltIn (Cells.ofKind kind)) (Some { Kind = kind; Bias = true }) "the biased cell"
                Expect.isTrue (obj.ReferenceEquals(Cells.ofBuiltIn { Kind = kind; Bias = false }, cell)) "one value per kind and flag"
                Expect.isTrue (obj.ReferenceEquals(Cells.ofBuiltIn { Kind = kind; Bias = true }, Cells.ofKind kind)) "ofKind is the biased one"
                Expect.equal (Cells.kindOf cell) None "kindOf answers only for PyTorch's default layout, biases included"
                Expect.equal (Cells.kindOf (Cells.ofKind kind)) (Some kind) "as before for the biased cell"
                Expect.isTrue (obj.ReferenceEquals((Cells.tryFind [] kind.Name).Value, Cells.ofKind kind)) "a mode name alone means the biased cell"
                Expect.equal cell.StateSlots (Cells.ofKind kind).StateSlots "the same state"
            }
        test "a custom cell is no built-in one" {
            let custom = Cell.create "MINE" [ Cell.parameter "w" (fun i h -> [| h; i |]) ] 1 (fun p s x -> CellState.Of(Nn.linearNoBias p.["w"] x + s.H))
            Expect.equal (Cells.tryBuiltIn custom) None "not built in"
        }
    ]

/// A bias-free cell's weights, and the same weights with zero biases for the biased cell.
let private weightsAndZeroBiases (kind: CellKind) (seed: int) (input: int) (hidden: int) : NamedTensors * NamedTensors =
    let weights = Cell.init (Cells.withoutBias kind) input hidden seed
    let zeros = Tensor.Zeros [| kind.Gates * hidden |]
    weights, NamedTensors(Array.append weights.Entries [| "bias_ih", zeros; "bias_hh", zeros |])

[<Tests>]
let zeroBiases =
    testList "Cells/bias-free cells, against zero biases" [
        for kind in kinds do
            test (sprintf "%s: the fused path gives the bits of the biased cell with zero biases, values and gradients" kind.Name) {
                // x·W + 0 is x·W exactly, and both cells run the same kernel code otherwise, so every bit agrees.
                let batch, time, input, hidden = 3, 6, 2, 4
                let weights, zeroBiased = weightsAndZeroBiases kind 31 input hidden
                let slots = (Cells.ofKind kind).StateSlots
                let inputs =
                    NamedTensors(
                        Array.append
                            [| "x", Check.uniform 32 -1.0 1.0 [| batch; time; input |] |]
                            (Array.init slots (fun k -> sprintf "s%d" k, Check.uniform (33 + k) -0.5 0.5 [| batch; hidden |])))
                let mask = RawTensor.ofArray [| batch; time |] [| 1.; 1.; 1.; 1.; 1.; 1.;  1.; 1.; 1.; 0.; 0.; 0.;  0.; 1.; 1.; 0.; 1.; 1. |]
                let options = { SequenceOptions.Default with Mask = Some mask; DetachEvery = Some 4 }
                let wOut = Check.uniform 35 -1.0 1.0 [| batch; time; hidden |]
                let run (cell: Cell) (constants: NamedTensors) =
                    let outputs = ref [||]
                    let loss (q: NamedTensors) =
                        let p = NamedTensors(constants.Names |> Array.map (fun n -> n, match q.TryFind n with Some t -> t | None -> constants.[n]))
                        let hs, last = Sequence.run cell p { Slots = Array.init slots (fun k -> q.[sprintf "s%d" k]) } options q.["x"]
                        outputs.Value <- Array.append [| hs |] last.Slots
                        (hs * wOut).Sum() + (last.Slots |> Array.map (fun s -> (s * s).Sum()) |> Array.reduce (+))
                    let _, g = Ad.Named.valueAndGrad loss (NamedTensors(Array.append weights.Entries inputs.Entries))
                    outputs.Value, g
                let freeValues, free = run (Cells.withoutBias kind) weights
                let biasedValues, biased = run (Cells.ofKind kind) zeroBiased
                Array.iteri2 (fun k a b -> Expect.equal (bits a) (bits b) (sprintf "outputs and final slots %d" k)) freeValues biasedValues
                for name in free.Names do
                    Expect.equal (bits free.[name]) (bits biased.[name]) (sprintf "∂L/∂%s" name)
            }
    ]

/// One case of the fixture: a two-layer bidirectional bias-free model of a mode, its inputs and PyTorch's results.
type private TorchCase =
    { Kind: CellKind
      Spec: RecurrentSpec
      Parameters: (string * Tensor)[]
      Inputs: Map<string, Tensor>
      Cotangents: Map<string, Tensor>
      Expected: Map<string, float[]>
      Grads: Map<string, float[]> }

let private torchCases =
    let tensor (e: JsonElement) =
        Tensor.OfArray([| for d in e.GetProperty("shape").EnumerateArray() -> d.GetInt32() |], [| for v in e.GetProperty("values").EnumerateArray() -> v.GetDouble() |])
    let entries (e: JsonElement) = [ for p in e.EnumerateObject() -> p.Name, tensor p.Value ]
    use doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "bias_free_cells.json")))
    [ for c in doc.RootElement.GetProperty("cases").EnumerateArray() ->
        let kind = CellKind.Parse(c.GetProperty("mode").GetString())
        let results = [ for name in [ "output"; "h_n"; "c_n" ] do
                          match c.TryGetProperty name with
                          | true, e -> name, (tensor e).ToArray()
                          | _ -> () ]
        { Kind = kind
          Spec =
            { Cell = Cells.withoutBias kind; InputSize = c.GetProperty("input_size").GetInt32(); HiddenSize = c.GetProperty("hidden_size").GetInt32()
              Layers = c.GetProperty("layers").GetInt32(); Bidirectional = c.GetProperty("bidirectional").GetBoolean(); Dropout = 0.0 }
          Parameters = entries (c.GetProperty "parameters") |> Array.ofList
          Inputs = Map(entries (c.GetProperty "inputs"))
          Cotangents = Map(entries (c.GetProperty "cotangents"))
          Expected = Map results
          Grads = Map [ for g in c.GetProperty("grads").EnumerateObject() -> g.Name, [| for v in g.Value.EnumerateArray() -> v.GetDouble() |] ] } ]

/// Checks ours against PyTorch's and returns the largest |a − b|, for the record.
let private closeToTorch (what: string) (expected: float[]) (actual: float[]) : float =
    Check.close what 1e-12 1e-15 expected actual
    Array.fold2 (fun m e a -> max m (abs (e - a))) 0.0 expected actual

[<Tests>]
let pytorch =
    testList "Cells/bias-free cells, against PyTorch" [
        // Tolerance: |ours − PyTorch's| ≤ 1e-12·max + 1e-15 per entry, float64 both. The same equations with tanh
        // and the logistic function within an ulp of each other and sums in another order: over two layers, both
        // directions and five steps the values agree to ~1e-16 and the gradients to ~1e-15 relative (printed
        // below); 1e-12 leaves room for another GEMM provider's order.
        for case in torchCases do
            test (sprintf "%s with bias=False, 2 layers, bidirectional: outputs, final states and every gradient" case.Kind.Name) {
                // PyTorch's state_dict names load as they are: no bias_* entries, none expected.
                let named = NamedTensors(Array.concat [ case.Parameters; case.Inputs |> Map.toArray ])
                let states = case.Spec.Layers * case.Spec.Directions
                let results = ref Map.empty
                let loss (q: NamedTensors) =
                    let p = Recurrent.ofNamed case.Spec "" q
                    let initial = Array.init states (fun k -> { Slots = [| yield q.["h0"].Select(0, k); if q.Contains "c0" then yield q.["c0"].Select(0, k) |] })
                    let outputs, finals = Recurrent.run p { RunOptions.Default with Initial = Some initial } None q.["x"]
                    let hn = Tensor.Stack(finals |> Array.map (fun s -> s.H), 0)
                    let cn = if q.Contains "c0" then Some(Tensor.Stack(finals |> Array.map (fun s -> s.Slots.[1]), 0)) else None
                    results.Value <- Map [ yield "output", outputs; yield "h_n", hn; match cn with Some c -> yield "c_n", c | None -> () ]
                    let l = (outputs * case.Cotangents.["output"]).Sum() + (hn * case.Cotangents.["h_n"]).Sum()
                    match cn with
                    | Some c -> l + (c * case.Cotangents.["c_n"]).Sum()
                    | None -> l
                let _, grads = Ad.Named.valueAndGrad loss named
                Expect.equal (results.Value |> Map.toList |> List.map fst |> set) (case.Expected |> Map.toList |> List.map fst |> set) "the same results"
                let values = [ for KeyValue (name, expected) in case.Expected -> closeToTorch name expected (results.Value.[name].ToArray()) ] |> List.max
                Expect.equal (set grads.Names) (case.Grads |> Map.toList |> List.map fst |> set) "a gradient for exactly PyTorch's tensors"
                let gradients = [ for KeyValue (name, expected) in case.Grads -> closeToTorch ("∂L/∂" + name) expected (grads.[name].ToArray()) ] |> List.max
                printfn "Cells: bias-free %s vs PyTorch 1.13, largest |ours − PyTorch's|: values %.3e, gradients %.3e" case.Kind.Name values gradients
            }
    ]
