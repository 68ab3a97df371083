module RnnAd.FSharp.Tests.Cells.FusedSequenceTests

open RnnAd
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Storage
open RnnAd.FSharp.Tests

// Sequence.run takes one fused op for the whole sequence (FusedSequence) in single-level training. Its
// definition is the readable step folded over time, with padding carried by Cell.carry and truncation by
// Sequence.detach; here both run on the same traced inputs, with a traced initial state, padding in the
// first, middle and last steps, and a truncation window that does not divide the length.
//
// Tolerances: values 1e-14 relative plus 1e-15 absolute (the same products summed in another order, values
// of magnitude ≤ 1); gradients 1e-12 relative plus 1e-15 absolute, ~10³ times the rounding these sums carry.

/// The readable definition: the step folded over time, padded steps carrying the state, the state detached
/// where truncation cuts, probes added to h after each step.
let private readableRun (kind: CellKind) (p: CellParams) (init: CellState) (o: SequenceOptions) (xs: Tensor) : Tensor * CellState =
    let batch, time = xs.Shape.[0], xs.Shape.[1]
    let mutable s = init
    let outputs = ResizeArray<Tensor>()
    for t in 0 .. time - 1 do
        let global' = o.StartStep + t
        let entering = match o.DetachEvery with Some k when global' > 0 && global' % k = 0 -> Sequence.detach s | _ -> s
        let next = Cell.step (Cells.ofKind kind) (CellParams.toNamed p) entering (xs.Select(1, t))
        let next =
            match o.Mask with
            | Some m -> Cell.carry (Layout.reshape [| batch; 1 |] (Layout.slice 1 t 1 m)) next entering
            | None -> next
        let next = match o.Probes with Some ps -> { Slots = Array.updateAt 0 (next.H + ps.[t]) next.Slots } | None -> next
        outputs.Add next.H
        s <- next
    Tensor.Stack(outputs.ToArray(), 1), s

/// Rows: 0 unpadded, 1 padded at the end (the last step too), 2 padded at the start, 3 with a hole.
let private mask =
    RawTensor.ofArray [| 4; 7 |]
        [| 1.; 1.; 1.; 1.; 1.; 1.; 1.
           1.; 1.; 1.; 1.; 0.; 0.; 0.
           0.; 0.; 1.; 1.; 1.; 1.; 1.
           1.; 1.; 0.; 1.; 0.; 1.; 1. |]

let private kinds = [ CellKind.RnnTanh; CellKind.RnnRelu; CellKind.Lstm; CellKind.Gru ]

type private Run = CellKind -> CellParams -> CellState -> SequenceOptions -> Tensor -> Tensor * CellState

/// The library's run of a built-in cell, which takes the fused kernel.
let private fusedRun: Run = fun kind p init o xs -> Sequence.run (Cells.ofKind kind) (CellParams.toNamed p) init o xs

let private compare (kind: CellKind) (probed: bool) (options: SequenceOptions) =
    let batch, time, input, hidden = 4, 7, 3, 5
    let p = CellParams.init kind input hidden 21
    let lstm = kind = CellKind.Lstm
    let named =
        NamedTensors [| "wih", p.WeightIh; "whh", p.WeightHh; "bih", p.BiasIh; "bhh", p.BiasHh
                        "x", Check.uniform 22 -1.0 1.0 [| batch; time; input |]
                        "h0", Check.uniform 23 -0.5 0.5 [| batch; hidden |]
                        "c0", Check.uniform 24 -0.5 0.5 [| batch; hidden |]
                        // nonzero, so that a rule reading act' off the probed output would be caught
                        "probe", Check.uniform 28 -0.3 0.3 [| batch; time; hidden |] |]
    let wOut, wH, wC = Check.uniform 25 -1.0 1.0 [| batch; time; hidden |], Check.uniform 26 -1.0 1.0 [| batch; hidden |], Check.uniform 27 -1.0 1.0 [| batch; hidden |]
    let loss (run: Run) (q: NamedTensors) =
        let cell = { WeightIh = q.["wih"]; WeightHh = q.["whh"]; BiasIh = q.["bih"]; BiasHh = q.["bhh"] }
        let init = if lstm then CellState.Of(q.["h0"], q.["c0"]) else CellState.Of q.["h0"]
        let options = if probed then { options with Probes = Some(Array.init time (fun t -> q.["probe"].Select(1, t))) } else options
        let outputs, last = run kind cell init options q.["x"]
        let cTerm = match last.C with Some c -> (c * wC).Sum() | None -> Tensor.Scalar 0.0
        (outputs * wOut).Sum() + (last.H * wH).Sum() + cTerm
    let fusedValue, fused = Ad.Named.valueAndGrad (loss fusedRun) named
    let readableValue, readable = Ad.Named.valueAndGrad (loss readableRun) named
    Check.close "loss" 1e-14 1e-15 (readableValue.ToArray()) (fusedValue.ToArray())
    for name in named.Names do
        Check.close (sprintf "∂/∂%s" name) 1e-12 1e-15 (readable.[name].ToArray()) (fused.[name].ToArray())
    Expect.isTrue (probed || fused.["probe"].ToArray() |> Array.forall ((=) 0.0)) "an unused probe gets no gradient"

[<Tests>]
let tests =
    testList "Cells/fused sequence" [
        for kind in kinds do
            test (sprintf "%s: equals the readable fold with a traced initial state" kind.Name) {
                compare kind false SequenceOptions.Default
            }
            test (sprintf "%s: equals the readable fold with padding" kind.Name) {
                compare kind false { SequenceOptions.Default with Mask = Some mask }
            }
            test (sprintf "%s: equals the readable fold with padding and truncation every 3 steps from step 2" kind.Name) {
                compare kind false { SequenceOptions.Default with Mask = Some mask; DetachEvery = Some 3; StartStep = 2 }
            }
            test (sprintf "%s: equals the readable fold with probes (∂L/∂hₜ), padding and truncation" kind.Name) {
                compare kind true { SequenceOptions.Default with Mask = Some mask; DetachEvery = Some 3 }
            }
        test "one time step, where ∂L/∂W_hh comes from h0 alone" {
            for kind in kinds do
                let p = CellParams.init kind 2 3 31
                let named = NamedTensors [| "whh", p.WeightHh; "h0", Check.uniform 32 -1.0 1.0 [| 2; 3 |] |]
                let xs = Check.uniform 33 -1.0 1.0 [| 2; 1; 2 |]
                let init (h0: Tensor) = if kind = CellKind.Lstm then CellState.Of(h0, Tensor.Zeros [| 2; 3 |]) else CellState.Of h0
                let loss (run: Run) (q: NamedTensors) =
                    let outputs, _ = run kind { p with WeightHh = q.["whh"] } (init q.["h0"]) SequenceOptions.Default xs
                    (outputs * outputs).Sum()
                let fused = Ad.Named.grad (loss fusedRun) named
                let readable = Ad.Named.grad (loss readableRun) named
                for name in named.Names do
                    Check.close (sprintf "%s ∂/∂%s" kind.Name name) 1e-12 1e-15 (readable.[name].ToArray()) (fused.[name].ToArray())
        }
    ]
