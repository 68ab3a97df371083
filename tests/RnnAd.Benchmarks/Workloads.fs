/// The workloads timed by the benchmark program; each mirrors a script in pytorch/ exactly.
module RnnAd.Benchmarks.Workloads

open RnnAd
open System
open RnnAd.FSharp
open RnnAd.FSharp.Reference

/// 4×4 matmul + tanh + sum, forward and backward: the per-op overhead of the traced engine (three
/// recorded ops and a reverse sweep).
let tracedOp () : unit -> unit =
    let w = Tensor.RandomUniform(1, [| 4; 4 |], -1.0, 1.0)
    let x = Tensor.RandomUniform(2, [| 4; 4 |], -1.0, 1.0)
    fun () -> Ad.grad (fun x -> (tanh (x.MatMul w)).Sum()) x |> ignore

/// One training step (loss, gradient, Adam update) of a model on a batch, as a reusable closure that keeps
/// its parameters and optimizer state between calls, like a training loop.
let private trainingStep (spec: ModelSpec) (seed: int) (lr: float) (batch: Minibatch) : unit -> unit =
    let optimizer = Optimizer.Adam AdamOptions.Default
    let mutable ps = SequenceModel.init spec seed
    let mutable state = Optimizers.init optimizer ps
    fun () ->
        let _, g = Ad.Named.valueAndGrad (fun p -> fst (SequenceModel.loss spec p RunOptions.Default batch)) ps
        let ps', state' = Optimizers.step optimizer lr ps state g
        ps <- ps'
        state <- state'

/// Seed 000's AbAcAd network: one-hot 4 → RNN tanh hidden 2 → Linear 2→4 over 299 steps, mean cross-entropy.
let abAcAdSpec : ModelSpec =
    { Cell = Cells.rnnTanh; Input = InputEncoding.OneHot 4; HiddenSize = 2; Layers = 1; Bidirectional = false
      Dropout = 0.0; Head = HeadKind.PerStep; HeadHidden = []; Outputs = 4; Loss = Loss.crossEntropy }

/// The AbAcAd text (A b A c A d …, 300 characters) as one batch: inputs the first 299, targets the next.
let abAcAdBatch : Minibatch =
    let ids = Array.init 300 (fun i -> if i % 2 = 0 then 0 else [| 1; 2; 3 |].[(i / 2) % 3])
    { Input = SequenceInput.Tokens ids.[.. 298]; Batch = 1; Time = 299; Mask = None; Targets = Targets.Classes(ids.[1..]) }

/// One AbAcAd epoch: forward, backward, Adam update (lr 1e-3, PyTorch's default).
let abAcAdEpoch () : unit -> unit = trainingStep abAcAdSpec 43052 1e-3 abAcAdBatch

/// 5000 AbAcAd epochs end to end.
let abAcAd5000 () : unit -> unit =
    fun () ->
        let epoch = abAcAdEpoch ()
        for _ in 1 .. 5000 do
            epoch ()

/// Seed 003's model: Embedding 10002×100 → RNN tanh 300 → Linear 300→256, relu → Linear 256→3; 200
/// steps, batch 64, last-step classification; Adam lr 1e-4.
let seed003 () : unit -> unit =
    let spec =
        { Cell = Cells.rnnTanh; Input = InputEncoding.Embedding(10002, 100); HiddenSize = 300; Layers = 1; Bidirectional = false
          Dropout = 0.0; Head = HeadKind.LastStep; HeadHidden = [ 256 ]; Outputs = 3; Loss = Loss.crossEntropy }
    let rng = Random 0
    let batch =
        { Input = SequenceInput.Tokens(Array.init (64 * 200) (fun _ -> rng.Next 10002)); Batch = 64; Time = 200; Mask = None
          Targets = Targets.Classes(Array.init 64 (fun _ -> rng.Next 3)) }
    trainingStep spec 0 1e-4 batch

/// A character LSTM: one-hot 65 → LSTM 2 × 128 → Linear 128→65 at every step; batch 32, 64 steps; Adam.
let charLstm () : unit -> unit =
    let spec =
        { Cell = Cells.lstm; Input = InputEncoding.OneHot 65; HiddenSize = 128; Layers = 2; Bidirectional = false
          Dropout = 0.0; Head = HeadKind.PerStep; HeadHidden = []; Outputs = 65; Loss = Loss.crossEntropy }
    let rng = Random 0
    let batch =
        { Input = SequenceInput.Tokens(Array.init (32 * 64) (fun _ -> rng.Next 65)); Batch = 32; Time = 64; Mask = None
          Targets = Targets.Classes(Array.init (32 * 64) (fun _ -> rng.Next 65)) }
    trainingStep spec 0 1e-3 batch

/// The model and batch on which AD and the hand-derived BPTT are timed against each other: one-hot 16 →
/// one layer of hidden 64 → Linear 64→16 at every step; batch 8, 50 steps.
let gradientPair (kind: CellKind) : (unit -> unit) * (unit -> unit) =
    let spec =
        { Cell = Cells.ofKind kind; Input = InputEncoding.OneHot 16; HiddenSize = 64; Layers = 1; Bidirectional = false
          Dropout = 0.0; Head = HeadKind.PerStep; HeadHidden = []; Outputs = 16; Loss = Loss.crossEntropy }
    let rng = Random 1
    let batch =
        { Input = SequenceInput.Tokens(Array.init (8 * 50) (fun _ -> rng.Next 16)); Batch = 8; Time = 50; Mask = None
          Targets = Targets.Classes(Array.init (8 * 50) (fun _ -> rng.Next 16)) }
    let ps = SequenceModel.init spec 1
    (fun () -> Ad.Named.valueAndGrad (fun p -> fst (SequenceModel.loss spec p RunOptions.Default batch)) ps |> ignore),
    (fun () -> Bptt.lossAndGradients spec ps None batch |> ignore)

/// Bytes the reverse-mode trace of a T-step char-LSTM forward pass keeps alive, per time step: measured as
/// the managed heap growth while the pullback (which holds the trace) is alive.
let tapeBytesPerStep () : float =
    let spec =
        { Cell = Cells.lstm; Input = InputEncoding.OneHot 65; HiddenSize = 128; Layers = 2; Bidirectional = false
          Dropout = 0.0; Head = HeadKind.PerStep; HeadHidden = []; Outputs = 65; Loss = Loss.crossEntropy }
    let time = 64
    let rng = Random 2
    let batch =
        { Input = SequenceInput.Tokens(Array.init (32 * time) (fun _ -> rng.Next 65)); Batch = 32; Time = time; Mask = None
          Targets = Targets.Classes(Array.init (32 * time) (fun _ -> rng.Next 65)) }
    let ps = SequenceModel.init spec 1
    let before = GC.GetTotalMemory true
    let _, pullback = Ad.Named.vjp (fun p -> fst (SequenceModel.loss spec p RunOptions.Default batch)) ps
    let after = GC.GetTotalMemory true
    GC.KeepAlive pullback
    float (after - before) / float time
