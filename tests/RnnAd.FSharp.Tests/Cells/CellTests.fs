module RnnAd.FSharp.Tests.Cells.CellTests

open RnnAd
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Tests

let private t (rows: float list list) = Tensor.OfArray(rows |> List.map Array.ofList |> Array.ofList)
let private v (xs: float list) = Tensor.OfArray(Array.ofList xs)

/// Cell parameters for hidden size 1 from the gate blocks' input weights, recurrent weights and biases.
let private cell (wih: float list) (whh: float list) (bih: float list) (bhh: float list) : CellParams =
    { WeightIh = t [ for w in wih -> [ w ] ]
      WeightHh = t [ for w in whh -> [ w ] ]
      BiasIh = v bih
      BiasHh = v bhh }

[<Tests>]
let stepByHand =
    testList "Cells/one step worked by hand" [
        test "RNN tanh and relu: h' = act(W_ih·x + b_ih + W_hh·h + b_hh)" {
            let p =
                { WeightIh = t [ [ 0.1; 0.2 ] ]
                  WeightHh = t [ [ 0.3 ] ]
                  BiasIh = v [ 0.05 ]
                  BiasHh = v [ -0.05 ] }
            // 0.1·1 + 0.2·2 + 0.05 + 0.3·0.5 − 0.05 = 0.65
            Check.close "tanh" 1e-15 0.0 [| tanh 0.65 |] ((Rnn.step tanh p (t [ [ 0.5 ] ]) (t [ [ 1.0; 2.0 ] ])).ToArray())
            // with h = −5: 0.5 − 1.5 = −1.0 → relu gives 0
            Check.exact "relu" [| 1; 1 |] [| 0.0 |] (Rnn.step Nn.relu p (t [ [ -5.0 ] ]) (t [ [ 1.0; 2.0 ] ]))
        }
        test "LSTM, gate order i, f, g, o" {
            // x = 1, h = 0, c = 2; input weights i: 0, f: ln 3, g: 0.5, o: 0; everything else 0.
            // i = σ(0) = 1/2, f = σ(ln 3) = 3/4, g = tanh 0.5, o = 1/2
            // c' = 3/4 · 2 + 1/2 · tanh 0.5;  h' = 1/2 · tanh c'
            let p = cell [ 0.0; log 3.0; 0.5; 0.0 ] [ 0.; 0.; 0.; 0. ] [ 0.; 0.; 0.; 0. ] [ 0.; 0.; 0.; 0. ]
            let h, c = Lstm.step p (t [ [ 0.0 ] ], t [ [ 2.0 ] ]) (t [ [ 1.0 ] ])
            let c' = 1.5 + 0.5 * tanh 0.5
            Check.close "c'" 1e-15 0.0 [| c' |] (c.ToArray())
            Check.close "h'" 1e-15 0.0 [| 0.5 * tanh c' |] (h.ToArray())
        }
        test "GRU, PyTorch's form: reset applied after W_hn·h + b_hn" {
            // x = 1, h = 1/2. r: input weight ln 3 → r = 3/4. z: all zero → z = 1/2.
            // n = tanh(W_in·x + r·(W_hn·h + b_hn)) = tanh(1 + 3/4·(2·1/2 + 0.2)) = tanh 1.9
            // h' = (1 − z)·n + z·h = tanh(1.9)/2 + 1/4. (Chung et al.'s form would give tanh 1.95 instead.)
            let p = cell [ log 3.0; 0.0; 1.0 ] [ 0.0; 0.0; 2.0 ] [ 0.; 0.; 0. ] [ 0.; 0.; 0.2 ]
            let h' = Gru.step p (t [ [ 0.5 ] ]) (t [ [ 1.0 ] ])
            Check.close "h'" 1e-15 0.0 [| tanh 1.9 / 2.0 + 0.25 |] (h'.ToArray())
        }
    ]

let private kinds = [ CellKind.RnnTanh; CellKind.RnnRelu; CellKind.Lstm; CellKind.Gru ]

[<Tests>]
let folds =
    testList "Cells/sequences" [
        for kind in kinds do
            test (sprintf "%s: running the sequence equals applying the step by hand T times" kind.Name) {
                // Sequence.run takes the fused path (input projection for all steps in one GEMM, one op per
                // step); the readable step sums in another order, so agreement is to a few ulps of values ≤ 1.
                let p = CellParams.init kind 3 4 11
                let xs = Check.uniform 12 -1.0 1.0 [| 2; 6; 3 |]
                let outputs, last = Sequence.run (Cells.ofKind kind) (CellParams.toNamed p) (Cell.zeroState (Cells.ofKind kind) 2 4) SequenceOptions.Default xs
                let mutable s = Cell.zeroState (Cells.ofKind kind) 2 4
                for step in 0 .. 5 do
                    s <- Cell.step (Cells.ofKind kind) (CellParams.toNamed p) s (xs.Select(1, step))
                    Check.close (sprintf "h at step %d" step) 1e-14 1e-15 (s.H.ToArray()) (outputs.Select(1, step).ToArray())
                Check.close "final h" 1e-14 1e-15 (s.H.ToArray()) (last.H.ToArray())
                s.C |> Option.iter (fun c -> Check.close "final c" 1e-14 1e-15 (c.ToArray()) (last.C.Value.ToArray()))
            }
            test (sprintf "%s: the fused step's gradient equals the readable step's" kind.Name) {
                // Same model, same loss; one fold takes the fused ops, the other the readable step functions.
                // The adjoints are the same algebra in another order: 1e-12 relative plus 1e-15 absolute (for
                // entries made small by cancellation) is ~10³ times the rounding these sums can carry.
                let p = CellParams.init kind 3 4 13
                let xs = Check.uniform 14 -1.0 1.0 [| 3; 7; 3 |]
                let w = Check.uniform 15 -1.0 1.0 [| 3; 7; 4 |]
                let named = NamedTensors [| "wih", p.WeightIh; "whh", p.WeightHh; "bih", p.BiasIh; "bhh", p.BiasHh; "x", xs |]
                let cellOf (q: NamedTensors) = { WeightIh = q.["wih"]; WeightHh = q.["whh"]; BiasIh = q.["bih"]; BiasHh = q.["bhh"] }
                let fusedLoss (q: NamedTensors) = ((fst (Sequence.run (Cells.ofKind kind) (CellParams.toNamed (cellOf q)) (Cell.zeroState (Cells.ofKind kind) 3 4) SequenceOptions.Default q.["x"])) * w).Sum()
                let readableLoss (q: NamedTensors) =
                    let states = Sequence.scan (Cell.step (Cells.ofKind kind) (CellParams.toNamed (cellOf q))) (Cell.zeroState (Cells.ofKind kind) 3 4) q.["x"]
                    (Tensor.Stack(states |> Array.map (fun s -> s.H), 1) * w).Sum()
                let fused = Ad.Named.grad fusedLoss named
                let readable = Ad.Named.grad readableLoss named
                for name in named.Names do
                    Check.close name 1e-12 1e-15 (readable.[name].ToArray()) (fused.[name].ToArray())
            }
            test (sprintf "%s: the bidirectional layer is forward ‖ backward-flipped, states in PyTorch order" kind.Name) {
                let spec = { Cell = Cells.ofKind kind; InputSize = 3; HiddenSize = 2; Layers = 1; Bidirectional = true; Dropout = 0.0 }
                let p = Recurrent.init spec 5
                let xs = Check.uniform 6 -1.0 1.0 [| 2; 4; 3 |]
                let out, finals = Recurrent.run p RunOptions.Default None xs
                let zero = Cell.zeroState (Cells.ofKind kind) 2 2
                let fwd, fwdLast = Sequence.run (Cells.ofKind kind) p.Cells.[0].[0] zero SequenceOptions.Default xs
                let bwd, bwdLast = Sequence.run (Cells.ofKind kind) p.Cells.[0].[1] zero SequenceOptions.Default (xs.Flip 1)
                Expect.equal (out.ToArray()) ((Tensor.Concat([ fwd; bwd.Flip 1 ], 2)).ToArray()) "outputs"
                Expect.equal (finals.[0].H.ToArray()) (fwdLast.H.ToArray()) "h_n[0] is the forward direction's last state"
                Expect.equal (finals.[1].H.ToArray()) (bwdLast.H.ToArray()) "h_n[1] is the backward direction's state after t = 0"
            }
        test "a sequence with no time step is rejected, naming the shape" {
            Check.throwsWith [ "sequence"; "(2, 0, 3)" ] (fun () -> Sequence.run Cells.gru (CellParams.toNamed (CellParams.init CellKind.Gru 3 2 1)) (Cell.zeroState (Cells.ofKind CellKind.Gru) 2 2) SequenceOptions.Default (Tensor.Zeros [| 2; 0; 3 |]))
        }
        test "truncation changes the gradient but not the values" {
            let spec = { Cell = Cells.rnnTanh; InputSize = 2; HiddenSize = 3; Layers = 1; Bidirectional = false; Dropout = 0.0 }
            let p = Recurrent.init spec 1
            let xs = Check.uniform 2 -1.0 1.0 [| 1; 6; 2 |]
            let lossWith k (w: Tensor) =
                let q = { p with Cells = [| [| p.Cells.[0].[0] |> NamedTensors.map (fun name t -> if name = "weight_hh" then w else t) |] |] }
                (fst (Recurrent.run q { RunOptions.Default with DetachEvery = k } None xs)).Sum()
            let w = p.Cells.[0].[0].["weight_hh"]
            Expect.equal ((lossWith (Some 2) w).ToArray()) ((lossWith None w).ToArray()) "same forward values"
            Expect.notEqual ((Ad.grad (lossWith (Some 2)) w).ToArray()) ((Ad.grad (lossWith None) w).ToArray()) "different gradient"
        }
    ]

[<Tests>]
let parameters =
    testList "Cells/parameters" [
        test "names, order and shapes are PyTorch's" {
            let spec = { Cell = Cells.lstm; InputSize = 5; HiddenSize = 3; Layers = 2; Bidirectional = true; Dropout = 0.0 }
            let named = Recurrent.toNamed "" (Recurrent.init spec 1)
            let expected =
                [ for l in 0 .. 1 do
                    for sfx in [ ""; "_reverse" ] do
                        let inp = if l = 0 then 5 else 6
                        sprintf "weight_ih_l%d%s" l sfx, [| 12; inp |]
                        sprintf "weight_hh_l%d%s" l sfx, [| 12; 3 |]
                        sprintf "bias_ih_l%d%s" l sfx, [| 12 |]
                        sprintf "bias_hh_l%d%s" l sfx, [| 12 |] ]
            Expect.equal [ for n, t in named -> n, t.Shape ] expected "names and shapes"
        }
        test "default initialisation: uniform within ±1/√hidden, reproducible from the seed" {
            let spec = { Cell = Cells.gru; Input = InputEncoding.OneHot 7; HiddenSize = 16; Layers = 2; Bidirectional = false
                         Dropout = 0.0; Head = HeadKind.PerStep; HeadHidden = []; Outputs = 7; Loss = Loss.crossEntropy }
            let a = SequenceModel.init spec 42
            let b = SequenceModel.init spec 42
            let c = SequenceModel.init spec 43
            for name in a.Names do
                Expect.equal (a.[name].ToArray()) (b.[name].ToArray()) (name + ": same seed, same bits")
                Expect.notEqual (a.[name].ToArray()) (c.[name].ToArray()) (name + ": other seed, other values")
                if name.StartsWith "rnn." then
                    Expect.isTrue (a.[name].ToArray() |> Array.forall (fun x -> abs x <= 0.25)) (name + " within 1/√16")
            // fc reads 16 features: bound 1/√16 as well
            Expect.isTrue (a.["fc.weight"].ToArray() |> Array.forall (fun x -> abs x <= 0.25)) "fc.weight within 1/√16"
        }
        test "reading parameters back checks names and shapes" {
            let spec = { Cell = Cells.gru; InputSize = 2; HiddenSize = 3; Layers = 1; Bidirectional = false; Dropout = 0.0 }
            let named = NamedTensors(Recurrent.toNamed "rnn." (Recurrent.init spec 1))
            Check.throwsWith [ "rnn.weight_ih_l0"; "(9, 2)"; "(9, 5)" ] (fun () -> Recurrent.ofNamed { spec with InputSize = 5 } "rnn." named)
            Check.throwsWith [ "rnn.weight_ih_l1"; "missing" ] (fun () -> Recurrent.ofNamed { spec with Layers = 2 } "rnn." named)
        }
        test "a batch's mask holds only 0 and 1 and leaves every sequence a real step" {
            let spec = { Cell = Cells.gru; Input = InputEncoding.OneHot 3; HiddenSize = 2; Layers = 1; Bidirectional = false
                         Dropout = 0.0; Head = HeadKind.LastStep; HeadHidden = []; Outputs = 2; Loss = Loss.crossEntropy }
            let batch mask = { Input = SequenceInput.Tokens [| 0; 1; 2; 0 |]; Batch = 2; Time = 2; Mask = Some mask; Targets = Targets.Classes [| 0; 1 |] }
            let ps = SequenceModel.init spec 1
            Check.throwsWith [ "mask entry 1 is 0.5" ] (fun () -> SequenceModel.loss spec ps RunOptions.Default (batch [| 1.; 0.5; 1.; 1. |]))
            Check.throwsWith [ "sequence 1"; "all padding" ] (fun () -> SequenceModel.loss spec ps RunOptions.Default (batch [| 1.; 1.; 0.; 0. |]))
            Check.throwsWith [ "embedding dimension"; "0" ] (fun () -> SequenceModel.validate { spec with Input = InputEncoding.Embedding(3, 0) })
        }
    ]
