module RnnAd.FSharp.Tests.Models.CustomCellTests

open System
open System.IO
open System.Threading
open Expecto
open RnnAd
open RnnAd.FSharp
open RnnAd.FSharp.Reference
open RnnAd.FSharp.Storage
open RnnAd.FSharp.Tests

// A cell the library does not know, written as a user writes one, goes through every service the
// built-in cells go through: the runner (layers, directions, masks, truncation, probes, checkpointing),
// the trainer, checkpoints, prediction and gradient checks.

/// The minimal gated unit (Zhou et al., 2016), as the custom-cell example writes it: one forget gate does the
/// work of the GRU's two.
let mgu: Cell = FSharpCustomCell.mgu

/// The text the char-level tests learn: the letter after any two is determined.
let private alphabet = "ehlo " |> Seq.toArray
let private ids = String.replicate 8 "hello " |> Seq.map (fun c -> Array.IndexOf(alphabet, c)) |> Array.ofSeq

let private windows =
    [| for i in 0 .. 3 .. ids.Length - 13 -> ids.[i .. i + 11], ids.[i + 1 .. i + 12] |]
    |> Array.chunkBySize 4
    |> Array.map (fun chunk ->
        { Input = SequenceInput.Tokens(chunk |> Array.collect fst); Batch = chunk.Length; Time = 12; Mask = None
          Targets = Targets.Classes(chunk |> Array.collect snd) })

let private spec (cell: Cell) : ModelSpec =
    { Cell = cell; Input = InputEncoding.Embedding(alphabet.Length, 4); HiddenSize = 10; Layers = 2; Bidirectional = false
      Dropout = 0.0; Head = HeadKind.PerStep; HeadHidden = []; Outputs = alphabet.Length; Loss = Loss.crossEntropy }

let private options epochs =
    { TrainingOptions.Default with Schedule = Schedule.Constant 0.02; Epochs = epochs; ClipNorm = Some 5.0; Seed = 7 }

let private train (s: ModelSpec) (o: TrainingOptions) =
    let start = Training.start o (SequenceModel.init s 1)
    fst (Training.fit (SequenceModel.model s) o { Train = (fun _ -> windows); Validation = None } ignore ignore CancellationToken.None start)

/// A feature batch of 3 sequences over 6 steps, the last two sequences padded (one at its end, one at its start).
let private padded (seed: int) (features: int) (outputs: int) : Minibatch =
    let rng = Random seed
    { Input = SequenceInput.Features(Check.uniform seed -1.0 1.0 [| 3; 6; features |])
      Batch = 3
      Time = 6
      Mask = Some [| 1.; 1.; 1.; 1.; 1.; 1.
                     1.; 1.; 1.; 1.; 0.; 0.
                     0.; 0.; 1.; 1.; 1.; 1. |]
      Targets = Targets.Classes(Array.init 18 (fun _ -> rng.Next outputs)) }

let private featureSpec (cell: Cell) (layers: int) (bidirectional: bool) : ModelSpec =
    { spec cell with Input = InputEncoding.Features 3; HiddenSize = 4; Layers = layers; Bidirectional = bidirectional; Outputs = 3 }

[<Tests>]
let tests =
    testList "Models/custom cells" [
        test "a custom cell trains through the trainer and learns the text" {
            let s = spec mgu
            let before = Evaluation.metrics (SequenceModel.model s) (SequenceModel.init s 1) windows
            let after = Evaluation.metrics (SequenceModel.model s) (train s (options 60)).Parameters windows
            Expect.isLessThan after.Loss (before.Loss / 10.0) "the loss falls by 10× at least"
            Expect.isGreaterThan after.Accuracy 0.95 "every letter after the first two is determined"
        }
        test "its parameters carry the stack's PyTorch-style names and its own shapes" {
            let names = (SequenceModel.model (featureSpec mgu 2 true)).Parameters |> Array.map fst
            Expect.containsAll names [ "rnn.weight_ih_l0"; "rnn.weight_hf_l0"; "rnn.weight_hn_l1_reverse"; "rnn.bias_l1" ] "layer and direction suffixes"
            let shapes = dict (SequenceModel.model (featureSpec mgu 2 true)).Parameters
            Expect.equal shapes.["rnn.weight_ih_l1"] [| 8; 8 |] "layer 1 reads both directions (2 × hidden 4)"
            let zeros = SequenceModel.init (featureSpec mgu 1 false) 3
            Expect.isTrue (zeros.["rnn.bias_l0"].ToArray() |> Array.forall ((=) 0.0)) "its own initializer"
        }
        test "AD agrees with finite differences through layers, both directions and padding" {
            // Centred differences with step 1e-6 carry ~1e-10 of error on these O(1) losses (see OpGradientTests).
            for layers, bidirectional in [ 1, false; 2, true ] do
                let s = featureSpec mgu layers bidirectional
                let ps = SequenceModel.init s 4
                let _, report = GradCheck.againstFiniteDifferences (SequenceModel.model s) ps GradientTolerance.FiniteDifferences (padded 5 3 3)
                Expect.isTrue report.Passed (report.ToTable())
        }
        test "padding changes neither the loss nor the final state" {
            // Row 1 stops after 4 steps: appending garbage steps behind its mask must leave everything as it was.
            let s = featureSpec mgu 1 false
            let ps = SequenceModel.init s 6
            let b = padded 7 3 3
            let x = match b.Input with SequenceInput.Features x -> x.ToArray() | _ -> failwith "features"
            let changed = Array.mapi (fun i v -> if i / 3 = 6 + 4 || i / 3 = 6 + 5 then v * 10.0 + 3.0 else v) x
            let b2 = { b with Input = SequenceInput.Features(Tensor.OfArray([| 3; 6; 3 |], changed)) }
            let l1, f1 = SequenceModel.loss s ps RunOptions.Default b
            let l2, f2 = SequenceModel.loss s ps RunOptions.Default b2
            Expect.equal (l2.ToArray()) (l1.ToArray()) "loss"
            Expect.equal (f2.[0].H.ToArray()) (f1.[0].H.ToArray()) "final state"
        }
        test "truncation keeps the values and cuts the gradient; checkpointing keeps both" {
            let s = { featureSpec mgu 1 false with Head = HeadKind.LastStep }
            let ps = SequenceModel.init s 8
            let b = { padded 9 3 3 with Targets = Targets.Classes [| 0; 1; 2 |] }
            let run options = Ad.Named.valueAndGrad (fun p -> fst (SequenceModel.loss s p options b)) ps
            let plainLoss, plain = run RunOptions.Default
            let truncLoss, trunc = run { RunOptions.Default with DetachEvery = Some 2 }
            let ckptLoss, ckpt = run { RunOptions.Default with CheckpointEvery = Some 2 }
            Expect.equal (truncLoss.ToArray()) (plainLoss.ToArray()) "truncation changes no value"
            Expect.notEqual (trunc.["rnn.weight_hf_l0"].ToArray()) (plain.["rnn.weight_hf_l0"].ToArray()) "but the recurrent gradient"
            // Checkpointing recomputes the same forward pass (same bits) and sums adjoints in another order.
            Expect.equal (ckptLoss.ToArray()) (plainLoss.ToArray()) "checkpointed loss"
            for name in ps.Names do
                Check.close name 1e-12 1e-15 (plain.[name].ToArray()) (ckpt.[name].ToArray())
        }
        test "probes give ∂L/∂h_t, which finite differences of the probe confirm" {
            let s = featureSpec mgu 1 false
            let ps = SequenceModel.init s 10
            let b = padded 11 3 3
            let ad = AdGradients.run s ps RunOptions.Default b
            let probe = NamedTensors [| "p", Tensor.Zeros [| 3; 6; 4 |] |]
            let loss (q: NamedTensors) =
                let steps = Array.init 6 (fun t -> q.["p"].Select(1, t))
                (fst (SequenceModel.loss s ps { RunOptions.Default with Probes = Some [| steps |] } b)).ToScalar()
            let fd = FiniteDifferences.gradient loss probe
            Check.close "∂L/∂h" 1e-6 1e-9 (fd.["p"].ToArray()) (ad.Hidden.["h_l0"].ToArray())
        }
        test "a trained custom-cell model saves, loads with its cell given, and predicts the same" {
            TempFolder.run (fun folder ->
                let s = spec mgu
                let trained = (train s (options 5)).Parameters
                let path = Path.Combine(folder, "mgu.safetensors")
                Checkpoint.save path s (Some(alphabet |> Array.map string)) trained
                TempFolder.throws<InvalidDataException, _> [ "'MGU'"; "custom cell" ] (fun () -> Checkpoint.load path)
                let loaded = Checkpoint.loadWith { LoadOptions.Default with Cells = [ mgu ] } path
                Expect.equal loaded.Spec s "the same spec, the same cell value"
                let model = SequenceModel.model s
                Expect.equal (Evaluation.predict model loaded.Parameters windows.[0]) (Evaluation.predict model trained windows.[0]) "same predictions")
        }
        test "a cell that breaks its own contract is named" {
            let bad = Cell.create "TWO" [ Cell.parameter "w" (fun i h -> [| h; i |]) ] 1 (fun p s x -> { Slots = [| s.H; s.H |] })
            let s = featureSpec bad 1 false
            let error = Expect.throwsC (fun () -> SequenceModel.forward s (SequenceModel.init s 1) RunOptions.Default (padded 1 3 3) |> ignore) id
            Expect.stringContains error.Message "cell 'TWO' returned 2 state slots, it declares 1" "names the cell and the slots"
            Check.throwsWith [ "names the parameter 'w' twice" ] (fun () ->
                Cell.create "DUP" [ Cell.parameter "w" (fun i h -> [| h; i |]); Cell.parameter "w" (fun _ h -> [| h |]) ] 1 (fun _ s _ -> s))
            Check.throwsWith [ "at least one state slot" ] (fun () -> Cell.create "NONE" [] 0 (fun _ s _ -> s))
        }
    ]

[<Tests>]
let streaming =
    testList "Models/streaming" [
        for cell in [ Cells.rnnTanh; Cells.lstm; Cells.gru; mgu ] do
            test (sprintf "%s: a sequence fed in pieces, carrying the state, gives the bits of one call" cell.Name) {
                let s = { featureSpec cell 2 false with HiddenSize = 5 }
                let ps = SequenceModel.init s 12
                let x = Check.uniform 13 -1.0 1.0 [| 2; 9; 3 |]
                let batch (t0: int) (length: int) =
                    { Input = SequenceInput.Features(x.Slice(1, t0, length)); Batch = 2; Time = length; Mask = None; Targets = Targets.None }
                let whole, wholeFinals = SequenceModel.forward s ps RunOptions.Default (batch 0 9)
                let mutable state = None
                let pieces = ResizeArray<Tensor>()
                for t0, length in [ 0, 2; 2, 4; 6, 1; 7, 2 ] do
                    let out, finals = SequenceModel.forward s ps { RunOptions.Default with Initial = state } (batch t0 length)
                    pieces.Add out
                    state <- Some finals
                Expect.equal (Tensor.Concat(pieces, 1).ToArray()) (whole.ToArray()) "outputs"
                for i in 0 .. wholeFinals.Length - 1 do
                    for k in 0 .. wholeFinals.[i].Slots.Length - 1 do
                        Expect.equal (state.Value.[i].Slots.[k].ToArray()) (wholeFinals.[i].Slots.[k].ToArray()) (sprintf "final state %d slot %d" i k)
            }
    ]
