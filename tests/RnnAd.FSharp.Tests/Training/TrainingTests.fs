module RnnAd.FSharp.Tests.Training.TrainingTests

open RnnAd
open System
open System.Threading
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Tests

/// A character language model on "hello" repeated: the next letter is fully determined by the last two.
let private text = String.replicate 8 "hello "
let private alphabet = "ehlo " |> Seq.toArray
let private ids = text |> Seq.map (fun c -> Array.IndexOf(alphabet, c)) |> Array.ofSeq

let private spec kind dropout : ModelSpec =
    { Cell = Cells.ofKind kind; Input = InputEncoding.Embedding(alphabet.Length, 4); HiddenSize = 12; Layers = 2; Bidirectional = false
      Dropout = dropout; Head = HeadKind.PerStep; HeadHidden = []; Outputs = alphabet.Length; Loss = Loss.crossEntropy }

/// Windows of 12 characters predicting the next ones, in batches of 4 (the same every epoch).
let private batches =
    let windows = [| for i in 0 .. 3 .. ids.Length - 13 -> ids.[i .. i + 11], ids.[i + 1 .. i + 12] |]
    windows |> Array.chunkBySize 4 |> Array.map (fun chunk ->
        { Input = SequenceInput.Tokens(chunk |> Array.collect fst); Batch = chunk.Length; Time = 12; Mask = None; Targets = Targets.Classes(chunk |> Array.collect snd) })

let private options epochs =
    { TrainingOptions.Default with Schedule = Schedule.Constant 0.02; Epochs = epochs; ClipNorm = Some 5.0; Seed = 7 }

let private data = { Train = (fun _ -> batches); Validation = Some batches }

let private fit spec options report save state =
    Training.fit (SequenceModel.model spec) options data report save CancellationToken.None state

let private bits (ps: NamedTensors) = ps.Tensors |> Array.map (fun t -> t.ToArray())

[<Tests>]
let tests =
    testList "Training/trainer" [
        test "training lowers the loss and learns the sequence" {
            let s = spec CellKind.Lstm 0.0
            let initial = Evaluation.metrics (SequenceModel.model s) (SequenceModel.init s 1) batches
            let final, history = fit s (options 60) ignore ignore (Training.start (options 60) (SequenceModel.init s 1))
            let m = Evaluation.metrics (SequenceModel.model s) final.Parameters batches
            Expect.isLessThan m.Loss (initial.Loss / 10.0) "loss falls by 10× at least"
            // Every letter after the first two of a window is determined: all but the first position's
            // ambiguity (none here: 'h', 'e', 'l', 'o', ' ' each follow uniquely from two letters) is learnable.
            Expect.isGreaterThan m.Accuracy 0.95 "accuracy"
            Expect.equal history.Length 60 "one report per epoch"
        }
        test "resuming from a checkpoint gives the same bits as an uninterrupted run (dropout and truncation on)" {
            let s = spec CellKind.Gru 0.3
            let o = { options 4 with CheckpointEvery = Some 3; TruncateEvery = Some 5; Optimizer = Optimizer.AdamW AdamOptions.DefaultW }
            let start = Training.start o (SequenceModel.init s 2)
            let saved = ResizeArray<TrainingState>()
            let straight, _ = fit s o ignore saved.Add start
            Expect.isGreaterThan saved.Count 2 "checkpoints were taken"
            for checkpoint in saved do
                let resumed, _ = fit s o ignore ignore checkpoint
                Expect.equal (bits resumed.Parameters) (bits straight.Parameters) (sprintf "resumed after %d batches" checkpoint.StepsDone)
                Expect.equal (bits resumed.Optimizer.Buffers) (bits straight.Optimizer.Buffers) "optimizer state"
        }
        test "truncated BPTT takes one update per chunk of k steps" {
            let s = spec CellKind.RnnTanh 0.0
            let o = { options 1 with TruncateEvery = Some 5 }
            let final, _ = fit s o ignore ignore (Training.start o (SequenceModel.init s 3))
            // 12 steps in chunks of 5: 5, 5, 2 → three updates per batch
            Expect.equal final.Optimizer.Step (int64 (3 * batches.Length)) "updates"
        }
        test "cancellation stops before the next batch and the last checkpoint stays usable" {
            let s = spec CellKind.Lstm 0.0
            let o = { options 10 with CheckpointEvery = Some 2 }
            use cts = new CancellationTokenSource()
            let mutable last = None
            let report =
                function
                | TrainingEvent.StepCompleted r when r.Step = 5L -> cts.Cancel()
                | _ -> ()
            let run () = Training.fit (SequenceModel.model s) o data report (fun st -> last <- Some st) cts.Token (Training.start o (SequenceModel.init s 4)) |> ignore
            let canceled = Expect.throwsC run (function :? FitCanceledException as e -> e | e -> failtestf "unexpected %O" e)
            Expect.equal canceled.State.StepsDone 5L "the exception carries the state after the last completed step"
            Expect.equal canceled.CancellationToken cts.Token "and the token that cancelled"
            Expect.equal (last |> Option.map (fun st -> st.StepsDone)) (Some 4L) "the checkpoint after batch 4 is the last"
            let resumed, _ = fit s o ignore ignore last.Value
            Expect.equal resumed.Epoch 10 "training resumes from it to the end"
        }
        test "a non-finite loss stops training with an error naming the step, parameters intact" {
            // The cross-entropy, made NaN on the batch whose targets are all 1: the second one.
            let nanOnAllOnes =
                Loss.Custom
                    { Name = "nan on all ones"; Targets = TargetKind.Classes
                      Compute = fun outputs targets weights ->
                          let ce = Loss.compute Loss.crossEntropy weights targets outputs
                          if Targets.classesOf targets |> Array.forall ((=) 1) then ce * nan else ce }
            let s = { spec CellKind.RnnTanh 0.0 with Input = InputEncoding.Features 2; Outputs = 2; Loss = nanOnAllOnes }
            let good = { Input = SequenceInput.Features(Tensor.Ones [| 1; 3; 2 |]); Batch = 1; Time = 3; Mask = None; Targets = Targets.Classes [| 0; 1; 0 |] }
            let bad = { good with Targets = Targets.Classes [| 1; 1; 1 |] }
            let o = options 1
            let start = Training.start o (SequenceModel.init s 5)
            let run () = Training.fit (SequenceModel.model s) o { Train = (fun _ -> [| good; bad |]); Validation = None } ignore ignore CancellationToken.None start |> ignore
            let error = Expect.throwsC run (fun e -> e)
            match error with
            | FitDivergedException (message, lastGood) ->
                Expect.stringContains message "batch 1 (step 2)" "names the step"
                Expect.stringContains message "loss is NaN" "names the cause"
                Expect.equal lastGood.StepsDone 1L "the state after the last good step"
                Expect.isTrue (lastGood.Parameters.Tensors |> Array.forall (fun t -> t.ToArray() |> Array.forall Double.IsFinite)) "parameters finite"
            | e -> failtestf "unexpected %O" e
        }
        test "a loss that climbs by orders of magnitude stops training although it stays finite" {
            // A learning rate of 10⁶ throws Adam's weights far out in the first update: the next loss is huge.
            let s = spec CellKind.Lstm 0.0
            let o = { options 3 with Schedule = Schedule.Constant 1e6 }
            let run () = fit s o ignore ignore (Training.start o (SequenceModel.init s 1)) |> ignore
            match Expect.throwsC run id with
            | FitDivergedException (message, lastGood) ->
                Expect.stringContains message "times the run's mean batch loss" "names the cause"
                Expect.isTrue (lastGood.Parameters.Tensors |> Array.forall (fun t -> t.ToArray() |> Array.forall Double.IsFinite)) "the last good parameters"
            | e -> failtestf "unexpected %O" e
            Check.throwsWith [ "RunawayFactor"; "above 1" ] (fun () -> Training.validate { o with RunawayFactor = Some 1.0 })
        }
        test "a non-finite feature is refused before it reaches the model, naming where it sits" {
            let s = { spec CellKind.RnnTanh 0.0 with Input = InputEncoding.Features 2; Outputs = 2 }
            let values = Array.init 6 (fun i -> if i = 3 then nan else 1.0)
            let batch = { Input = SequenceInput.Features(Tensor.OfArray([| 1; 3; 2 |], values)); Batch = 1; Time = 3; Mask = None; Targets = Targets.Classes [| 0; 1; 0 |] }
            Check.throwsWith [ "feature 1 of step 1 of sequence 0"; "NaN" ] (fun () -> SequenceModel.forward s (SequenceModel.init s 5) RunOptions.Default batch)
        }
        test "invalid options are rejected by name" {
            Check.throwsWith [ "TruncateEvery" ] (fun () -> Training.validate { options 1 with TruncateEvery = Some 0 })
            Check.throwsWith [ "ClipNorm" ] (fun () -> Training.validate { options 1 with ClipNorm = Some -1.0 })
            Check.throwsWith [ "Epochs" ] (fun () -> Training.validate { options -1 with Epochs = -1 })
        }
    ]

[<Tests>]
let generation =
    testList "Training/generation" [
        let s = spec CellKind.Lstm 0.0
        let trained = lazy (fst (fit s (options 60) ignore ignore (Training.start (options 60) (SequenceModel.init s 1)))).Parameters
        let decode (xs: int[]) = String(xs |> Array.map (fun i -> alphabet.[i]))
        test "a trained model continues the pattern greedily" {
            let prompt = "hel" |> Seq.map (fun c -> Array.IndexOf(alphabet, c)) |> Array.ofSeq
            Expect.equal (decode (Generation.sample (SequenceModel.model s) trained.Value prompt 9 SamplingOptions.Greedy)) "lo hello " "greedy continuation"
        }
        test "sampling is reproducible from its seed; top-1 is greedy" {
            let ps = SequenceModel.init s 9
            let draw seed k = Generation.sample (SequenceModel.model s) ps [| 0 |] 30 { Temperature = 1.5; TopK = k; Seed = seed }
            Expect.equal (draw 1 None) (draw 1 None) "same seed, same text"
            Expect.notEqual (draw 1 None) (draw 2 None) "another seed, another text (30 draws from an untrained model)"
            Expect.equal (draw 3 (Some 1)) (Generation.sample (SequenceModel.model s) ps [| 0 |] 30 SamplingOptions.Greedy) "top-1"
        }
        test "generation rejects what it cannot do" {
            Check.throwsWith [ "prompt" ] (fun () -> Generation.sample (SequenceModel.model s) (SequenceModel.init s 1) [||] 3 SamplingOptions.Greedy)
            Check.throwsWith [ "bidirectional" ] (fun () -> Generation.sample (SequenceModel.model { s with Bidirectional = true }) (SequenceModel.init { s with Bidirectional = true } 1) [| 0 |] 3 SamplingOptions.Greedy)
            Check.throwsWith [ "outside the vocabulary" ] (fun () -> Generation.sample (SequenceModel.model s) (SequenceModel.init s 1) [| 9 |] 3 SamplingOptions.Greedy)
        }
    ]
