module RnnAd.FSharp.Tests.Training.TrainingLoopTests

open RnnAd
open System
open System.IO
open System.Threading
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Tests

// Early stopping, limits, hooks, cancellation and the monitor, on the "hello" language model of TrainingTests: 12
// windows of 12 characters in 3 batches of 4 per epoch.

let private text = String.replicate 8 "hello "
let private alphabet = "ehlo " |> Seq.toArray
let private ids = text |> Seq.map (fun c -> Array.IndexOf(alphabet, c)) |> Array.ofSeq

let private spec : ModelSpec =
    { Cell = Cells.lstm; Input = InputEncoding.Embedding(alphabet.Length, 4); HiddenSize = 8; Layers = 1; Bidirectional = false
      Dropout = 0.0; Head = HeadKind.PerStep; HeadHidden = []; Outputs = alphabet.Length; Loss = Loss.crossEntropy }

let private model = SequenceModel.model spec

let private batchesWith (target: int -> int) =
    let windows = [| for i in 0 .. 3 .. ids.Length - 13 -> ids.[i .. i + 11], ids.[i + 1 .. i + 12] |]
    windows |> Array.chunkBySize 4 |> Array.map (fun chunk ->
        { Input = SequenceInput.Tokens(chunk |> Array.collect fst); Batch = chunk.Length; Time = 12; Mask = None
          Targets = Targets.Classes(chunk |> Array.collect snd |> Array.map target) })

let private batches = batchesWith id

/// Validation of which a third contradicts the training text (targets shifted by one letter): its loss falls while the model
/// learns what the text and the two other thirds share, then rises as it learns what the third contradicts (measured: a
/// minimum at epoch 3 of this seed), so early stopping has a best epoch inside the run to restore.
let private contrary = Array.append (Array.truncate 2 batches) (Array.truncate 1 (batchesWith (fun t -> (t + 1) % alphabet.Length)))

let private options =
    { TrainingOptions.Default with Schedule = Schedule.Constant 0.03; Epochs = 30; ClipNorm = Some 5.0; Seed = 5 }

let private start () = Training.start options (SequenceModel.init spec 3)

let private bits (ps: NamedTensors) = ps.Tensors |> Array.map (fun t -> t.ToArray())

/// A clock that moves only when told: time budgets and estimates without the machine's speed in them.
type private ManualClock() =
    inherit TimeProvider()
    let mutable ticks = 0L
    member _.Advance(t: TimeSpan) = ticks <- ticks + t.Ticks
    override _.GetTimestamp() = ticks
    override _.TimestampFrequency = TimeSpan.TicksPerSecond

/// Runs with hooks that record every event and the state at every step (CheckpointEvery = 1).
let private recorded (o: TrainingOptions) (data: TrainingData) (decide: TrainingEvent -> TrainingDecision) (state: TrainingState) =
    let events = ResizeArray<TrainingEvent>()
    let states = Collections.Generic.Dictionary<int64, TrainingState>()
    let bests = ResizeArray<TrainingState>()
    let hooks =
        { TrainingHooks.Default with
            OnEvent = (fun e -> events.Add e; decide e)
            SaveCheckpoint = (fun s -> states.[s.StepsDone] <- s)
            SaveBest = bests.Add }
    let outcome = Training.run model { o with CheckpointEvery = Some 1 } data hooks state
    outcome, List.ofSeq events, states, List.ofSeq bests

let private go _ = TrainingDecision.Continue

[<Tests>]
let tests =
    testList "Training/loop" [
        test "early stopping ends Patience epochs after the best and restores the best epoch's bits" {
            let o = { options with EarlyStopping = Some { Patience = 3; MinDelta = 0.0 }; RestoreBest = true }
            let outcome, _, states, bests = recorded o { Train = (fun _ -> batches); Validation = Some contrary } go (start ())
            let losses = outcome.History |> List.map (fun e -> e.Validation.Value.Loss)
            // The best epoch, worked from the validation losses: the first strict minimum.
            let best = losses |> List.indexed |> List.fold (fun (bi, bv) (i, v) -> if v < bv then i, v else bi, bv) (-1, infinity) |> fst
            Expect.equal outcome.Stop StopReason.EarlyStopped "stopped early"
            Expect.isLessThan outcome.History.Length o.Epochs "before the last epoch"
            Expect.isGreaterThan best 0 "a best epoch after the first, so that restoring is not starting over"
            Expect.equal outcome.History.Length (best + 3 + 1) "three epochs after the best"
            Expect.equal (outcome.Best |> Option.map (fun b -> b.Epoch)) (Some best) "the best epoch"
            let atBest = states.[int64 ((best + 1) * batches.Length)]
            Expect.equal (bits outcome.Parameters) (bits atBest.Parameters) "the best epoch's parameters, to the bit"
            Expect.notEqual (bits outcome.Parameters) (bits outcome.State.Parameters) "not the last ones"
            Expect.equal (bits (List.last bests).Parameters) (bits atBest.Parameters) "the best checkpoint holds them"
            Expect.equal (outcome.History |> List.filter (fun e -> e.IsBest) |> List.length) bests.Length "one best checkpoint per improvement"
        }
        test "MinDelta: an improvement smaller than it does not count" {
            let o = { options with EarlyStopping = Some { Patience = 2; MinDelta = 1e9 } }
            let outcome, _, _, bests = recorded o { Train = (fun _ -> batches); Validation = Some batches } go (start ())
            // The training loss falls every epoch, by far less than 10⁹: only the first epoch is a best.
            Expect.equal outcome.History.Length 3 "the first epoch, then two without improvement"
            Expect.equal bests.Length 1 "one best"
            Expect.equal outcome.Stop StopReason.EarlyStopped "stopped"
        }
        test "a higher-is-better figure is monitored upwards" {
            let o = { options with Epochs = 8; Monitor = Metric.Accuracy; RestoreBest = true }
            let outcome, _, _, _ = recorded o { Train = (fun _ -> batches); Validation = Some batches } go (start ())
            let accuracies = outcome.History |> List.map (fun e -> e.Validation.Value.Accuracy)
            let best = accuracies |> List.indexed |> List.fold (fun (bi, bv) (i, v) -> if v > bv then i, v else bi, bv) (-1, -infinity) |> fst
            Expect.equal (outcome.Best |> Option.map (fun b -> b.Epoch)) (Some best) "the epoch of the highest accuracy"
            Expect.equal outcome.Stop StopReason.Completed "no early stopping asked"
        }
        test "a run resumed from its last and best checkpoint files stops and restores as an uninterrupted one" {
            TempFolder.run (fun dir ->
                let o = { options with EarlyStopping = Some { Patience = 3; MinDelta = 0.0 }; RestoreBest = true; Schedule = Schedule.ReduceOnPlateau(0.03, { PlateauOptions.Default with Patience = 1 }) }
                let data = { Train = (fun _ -> batches); Validation = Some contrary }
                let straight, _, _, _ = recorded o data go (start ())
                let path = Path.Combine(dir, "run.safetensors")
                use cts = new CancellationTokenSource()
                let hooks =
                    { TrainingHooks.Default with
                        SaveCheckpoint = TrainingCheckpoint.save path spec None
                        SaveBest = TrainingCheckpoint.save (TrainingCheckpoint.bestPath path) spec None
                        Cancellation = cts.Token
                        // Past the best epoch, before the stop.
                        OnEvent = (function TrainingEvent.StepCompleted s when s.Step = int64 (straight.History.Length - 2) * 3L -> cts.Cancel(); go () | _ -> go ()) }
                Expect.throwsT<FitCanceledException> (fun () -> Training.run model { o with CheckpointEvery = Some 1 } data hooks (start ()) |> ignore) "cancelled"
                let _, state = TrainingCheckpoint.load path
                let _, best = TrainingCheckpoint.load (TrainingCheckpoint.bestPath path)
                Expect.isSome state.Monitor.Best "the monitor was saved"
                Expect.isSome state.Monitor.Plateau "and the plateau's state"
                let resumed = Training.run model o data TrainingHooks.Default { state with Monitor = { state.Monitor with BestParameters = Some best.Parameters } }
                Expect.equal resumed.Stop straight.Stop "the same stop"
                Expect.equal resumed.State.StepsDone straight.State.StepsDone "at the same step"
                Expect.equal (bits resumed.Parameters) (bits straight.Parameters) "the same restored bits"
                Expect.equal (resumed.History |> List.map (fun e -> e.LearningRate)) (straight.History |> List.skip (straight.History.Length - resumed.History.Length) |> List.map (fun e -> e.LearningRate)) "the same rates")
        }
        test "restoring the best needs its parameters: a state with a best epoch but none is refused" {
            let state = { start () with Monitor = { MonitorState.Empty with Best = Some { Epoch = 2; Step = 9L; Value = 1.0 } } }
            Check.throwsWith [ "best epoch (3)"; "RestoreBest" ] (fun () -> Training.run model { options with RestoreBest = true } { Train = (fun _ -> batches); Validation = None } TrainingHooks.Default state)
        }
        test "MaxSteps stops within an epoch, reports the part that ran, and a resumed run goes on to the same bits" {
            let data = { Train = (fun _ -> batches); Validation = Some batches }
            let five, _, _, _ = recorded { options with MaxSteps = Some 5L } data go (start ())
            Expect.equal five.Stop StopReason.MaxSteps "stopped by the limit"
            Expect.equal five.State.StepsDone 5L "after five steps"
            Expect.equal (five.History |> List.map (fun e -> e.Steps, e.Complete)) [ 3, true; 2, false ] "epoch 1 ran two of its three batches"
            Expect.isSome (List.last five.History).Validation "the partial epoch is evaluated"
            Expect.isFalse (List.last five.History).IsBest "but not judged"
            let nine, _, _, _ = recorded { options with MaxSteps = Some 9L } data go (start ())
            let resumed = Training.run model { options with MaxSteps = Some 9L } data TrainingHooks.Default five.State
            Expect.equal (bits resumed.State.Parameters) (bits nine.State.Parameters) "the same bits"
            Expect.equal (resumed.History |> List.map (fun e -> e.Epoch, e.Steps)) [ 1, 1; 2, 3 ] "the rest of epoch 1, then epoch 2"
        }
        test "the time budget stops before a step that would start past it, by the clock given" {
            let clock = ManualClock()
            let hooks =
                { TrainingHooks.Default with
                    Clock = clock
                    OnEvent = (function TrainingEvent.StepCompleted _ -> clock.Advance(TimeSpan.FromSeconds 10.0); go () | _ -> go ()) }
            let outcome = Training.run model { options with TimeBudget = Some(TimeSpan.FromSeconds 35.0) } { Train = (fun _ -> batches); Validation = None } hooks (start ())
            // Each step takes 10 s by this clock: after 4 steps 40 s have passed, more than 35.
            Expect.equal outcome.Stop StopReason.TimeBudget "stopped by the budget"
            Expect.equal outcome.State.StepsDone 4L "four steps"
        }
        test "step reports estimate the time left at the run's pace, by the clock given" {
            let clock = ManualClock()
            let reports = ResizeArray<StepReport>()
            let hooks =
                { TrainingHooks.Default with
                    Clock = clock
                    OnEvent = (function TrainingEvent.StepCompleted s -> reports.Add s; clock.Advance(TimeSpan.FromSeconds 10.0); go () | _ -> go ()) }
            Training.run model { options with Epochs = 3 } { Train = (fun _ -> batches); Validation = None } hooks (start ()) |> ignore
            // Step n is reported after 10·(n − 1) s: a pace of n / (10(n − 1)) steps per second, 9 − n steps to go.
            let third = reports.[2]
            Expect.equal third.TotalSteps 9L "3 epochs of 3 batches"
            Expect.equal third.Elapsed (TimeSpan.FromSeconds 20.0) "elapsed"
            Expect.equal third.StepsPerSecond (3.0 / 20.0) "pace"
            Expect.floatClose Accuracy.veryHigh third.Remaining.TotalSeconds (6.0 / (3.0 / 20.0)) "6 steps at 0.15 per second"
            let capped = Training.run model { options with Epochs = 3; MaxSteps = Some 4L; TimeBudget = Some(TimeSpan.FromSeconds 25.0) } { Train = (fun _ -> batches); Validation = None }
            let clock2 = ManualClock()
            let reports2 = ResizeArray<StepReport>()
            capped { TrainingHooks.Default with Clock = clock2; OnEvent = (function TrainingEvent.StepCompleted s -> reports2.Add s; clock2.Advance(TimeSpan.FromSeconds 10.0); go () | _ -> go ()) } (start ()) |> ignore
            Expect.equal reports2.[0].TotalSteps 4L "MaxSteps caps the total"
            Expect.equal reports2.[2].Remaining (TimeSpan.FromSeconds 5.0) "the budget's 25 s less 20 s elapsed, sooner than the pace's"
        }
        test "a hook stops training after the step or epoch it was told of" {
            let afterStep, _, _, _ = recorded options { Train = (fun _ -> batches); Validation = None } (function TrainingEvent.StepCompleted s when s.Step = 2L -> TrainingDecision.Stop | _ -> go ()) (start ())
            Expect.equal afterStep.Stop StopReason.Requested "requested"
            Expect.equal afterStep.State.StepsDone 2L "after step 2"
            let afterEpoch, _, _, _ = recorded options { Train = (fun _ -> batches); Validation = None } (function TrainingEvent.EpochCompleted e when e.Epoch = 1 -> TrainingDecision.Stop | _ -> go ()) (start ())
            Expect.equal afterEpoch.History.Length 2 "two epochs"
            Expect.equal (afterEpoch.State.Epoch, afterEpoch.State.Batch) (2, 0) "at the start of the third"
        }
        test "a cancelled run carries the state of its last completed step, the same bits as the checkpoint of that step" {
            use cts = new CancellationTokenSource()
            let states = Collections.Generic.Dictionary<int64, TrainingState>()
            let hooks =
                { TrainingHooks.Default with
                    SaveCheckpoint = (fun s -> states.[s.StepsDone] <- s)
                    Cancellation = cts.Token
                    OnEvent = (function TrainingEvent.StepCompleted s when s.Step = 4L -> cts.Cancel(); go () | _ -> go ()) }
            let e = Expect.throwsC (fun () -> Training.run model { options with CheckpointEvery = Some 1 } { Train = (fun _ -> batches); Validation = None } hooks (start ()) |> ignore) (function :? FitCanceledException as e -> e | e -> failtestf "%O" e)
            Expect.equal e.State.StepsDone 4L "after step 4"
            Expect.equal (bits e.State.Parameters) (bits states.[4L].Parameters) "the checkpoint of step 4"
            Expect.equal (bits e.State.Optimizer.Buffers) (bits states.[4L].Optimizer.Buffers) "optimizer state too"
            Expect.equal e.History.Length 1 "epoch 0 was reported"
        }
        test "ReduceOnPlateau lowers the rate when the monitored figure stalls, and the steps use it" {
            let o = { options with Epochs = 8; Schedule = Schedule.ReduceOnPlateau(0.03, { PlateauOptions.Default with Patience = 1; Factor = 0.5 }) }
            let outcome, events, _, _ = recorded o { Train = (fun _ -> batches); Validation = Some contrary } go (start ())
            let rates = outcome.History |> List.map (fun e -> e.LearningRate)
            Expect.isLessThan (List.last rates) 0.03 "reduced"
            // Every step of an epoch uses the rate the epoch before ended with.
            let stepRates = events |> List.choose (function TrainingEvent.StepCompleted s -> Some(s.Epoch, s.LearningRate) | _ -> None)
            for e in 1 .. outcome.History.Length - 1 do
                for epoch, rate in stepRates do
                    if epoch = e then Expect.equal rate rates.[e - 1] (sprintf "epoch %d" e)
        }
        test "every epoch reports running figures of its training batches beside the validation ones" {
            let outcome, _, _, _ = recorded { options with Epochs = 2 } { Train = (fun _ -> batches); Validation = Some batches } go (start ())
            let first = outcome.History.Head
            Expect.equal first.Training.Value.Count (12.0 * 12.0) "every position of the 12 windows"
            Expect.isGreaterThan first.Training.Value.Accuracy 0.0 "accuracy"
            Expect.equal first.Training.Value.BitsPerCharacter (first.Training.Value.Loss / log 2.0) "bits"
            Expect.isSome first.Training.Value.Confusion "confusion matrix"
        }
        test "the monitored figure must apply to the model; schedules spanning a run count its updates" {
            Check.throwsWith [ "rmse"; "cross_entropy" ] (fun () -> Training.run model { options with Monitor = Metric.Rmse } { Train = (fun _ -> batches); Validation = None } TrainingHooks.Default (start ()))
            // 12 steps in windows of 5: 5, 5, 2, three updates per batch.
            Expect.equal (Training.updatesIn model { options with TruncateEvery = Some 5 } batches) (3L * int64 batches.Length) "updates per epoch"
            Expect.equal (Training.updatesIn model options batches) (int64 batches.Length) "one per batch with full BPTT"
            Check.throwsWith [ "MaxSteps" ] (fun () -> Training.validate { options with MaxSteps = Some 0L })
            Check.throwsWith [ "Patience" ] (fun () -> Training.validate { options with EarlyStopping = Some { Patience = 0; MinDelta = 0.0 } })
        }
    ]
