/// The workloads timed by the benchmark program.
module RnnAd.Benchmarks.Workloads

open RnnAd.FSharp

/// 4×4 matmul + tanh + sum, forward and backward: the per-op overhead of the traced engine (three
/// recorded ops and a reverse sweep).
let smallTracedOp () : unit -> unit =
    let w = Tensor.RandomUniform(1, [| 4; 4 |], -1.0, 1.0)
    let x = Tensor.RandomUniform(2, [| 4; 4 |], -1.0, 1.0)
    fun () -> Ad.grad (fun x -> (tanh (x.MatMul w)).Sum()) x |> ignore

/// The AbAcAd network of seed 000: one-hot 4 → RNN tanh hidden 2 → Linear 2→4, 299 steps, mean
/// cross-entropy; one forward and backward pass over all parameters.
let abAcAdSpec : ModelSpec =
    { Cell = CellKind.RnnTanh; Input = InputEncoding.OneHot 4; HiddenSize = 2; Layers = 1; Bidirectional = false
      Dropout = 0.0; Head = HeadKind.PerStep; HeadHidden = []; Outputs = 4 }

/// The AbAcAd text as ids: A b A c A d repeated, 300 characters, inputs the first 299 and targets the next.
let abAcAdBatch : SequenceBatch =
    let ids = Array.init 300 (fun i -> if i % 2 = 0 then 0 else [| 1; 2; 3 |].[(i / 2) % 3])
    { Input = SequenceInput.Tokens ids.[.. 298]; Batch = 1; Time = 299; Mask = None; Targets = ids.[1..] }

/// Loss and gradient of the AbAcAd network for one epoch (the whole sequence).
let abAcAdEpoch () : unit -> unit =
    let ps = SequenceModel.init abAcAdSpec 43052
    fun () -> Ad.Named.valueAndGrad (fun p -> fst (SequenceModel.loss abAcAdSpec p RunOptions.Default abAcAdBatch)) ps |> ignore
