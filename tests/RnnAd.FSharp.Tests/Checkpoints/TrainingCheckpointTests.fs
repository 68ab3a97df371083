module RnnAd.FSharp.Tests.Checkpoints.TrainingCheckpointTests

open System
open System.IO
open System.Threading
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Tests

let private spec : ModelSpec =
    { Cell = Cells.lstm; Input = InputEncoding.Embedding(4, 3); HiddenSize = 5; Layers = 2; Bidirectional = false
      Dropout = 0.2; Head = HeadKind.PerStep; HeadHidden = []; Outputs = 4; Loss = Loss.crossEntropy }

let private batches =
    [| for b in 0 .. 2 ->
        let ids = Array.init 12 (fun i -> (i + b) % 4)
        { Input = SequenceInput.Tokens ids; Batch = 2; Time = 6; Mask = None; Targets = Targets.Classes(ids |> Array.map (fun i -> (i + 1) % 4)) } |]

let private options =
    { TrainingOptions.Default with Schedule = Schedule.Constant 0.01; Epochs = 3; TruncateEvery = Some 4; Seed = 11; CheckpointEvery = Some 2 }

let private data = { Train = (fun _ -> batches); Validation = None }
let private bits (ps: NamedTensors) = ps.Tensors |> Array.map (fun t -> t.ToArray())

let private withFolder (f: string -> unit) =
    let dir = Path.Combine(Path.GetTempPath(), "rnnad-tc-" + Guid.NewGuid().ToString "N")
    Directory.CreateDirectory dir |> ignore
    try f dir finally Directory.Delete(dir, true)

[<Tests>]
let tests =
    testList "Checkpoints/training checkpoint" [
        test "a run resumed from its checkpoint file ends with the same bits as an uninterrupted run" {
            withFolder (fun dir ->
                let path = Path.Combine(dir, "train.safetensors")
                let start = Training.start options (SequenceModel.init spec 3)
                let straight, _ = Training.fit (SequenceModel.model spec) options data ignore ignore CancellationToken.None start
                // Stop after the checkpoint at step 4 by cancelling, then resume from the file alone.
                use cts = new CancellationTokenSource()
                let save (st: TrainingState) =
                    TrainingCheckpoint.save path spec (Some [| "a"; "b"; "c"; "d" |]) st
                    if st.StepsDone = 4L then cts.Cancel()
                Expect.throwsT<FitCanceledException> (fun () -> Training.fit (SequenceModel.model spec) options data ignore save cts.Token start |> ignore) "stopped"
                let model, state = TrainingCheckpoint.load path
                Expect.equal state.StepsDone 4L "progress restored"
                Expect.equal model.Vocabulary (Some [| "a"; "b"; "c"; "d" |]) "vocabulary restored"
                let resumed, _ = Training.fit (SequenceModel.model model.Spec) options data ignore ignore CancellationToken.None state
                Expect.equal (bits resumed.Parameters) (bits straight.Parameters) "same parameters"
                Expect.equal (bits resumed.Optimizer.Buffers) (bits straight.Optimizer.Buffers) "same optimizer state")
        }
        test "a training checkpoint also loads as a model; a model checkpoint is not a training state" {
            withFolder (fun dir ->
                let path = Path.Combine(dir, "t.safetensors")
                let state = Training.start options (SequenceModel.init spec 5)
                TrainingCheckpoint.save path spec None state
                let model = Checkpoint.load path
                Expect.equal (bits model.Parameters) (bits state.Parameters) "parameters"
                let plain = Path.Combine(dir, "m.safetensors")
                Checkpoint.save plain spec None state.Parameters
                let error = Expect.throwsC (fun () -> TrainingCheckpoint.load plain |> ignore) id
                Expect.stringContains error.Message "rnnad.training" "names the missing key"
                Expect.stringContains error.Message "m.safetensors" "names the file")
        }
        test "a malformed progress record is refused naming the field, never wrapped into another epoch" {
            withFolder (fun dir ->
                let path = Path.Combine(dir, "t.safetensors")
                TrainingCheckpoint.save path spec None (Training.start options (SequenceModel.init spec 5))
                let file = Safetensors.read path
                let withProgress (name: string) (progress: string) =
                    let p = Path.Combine(dir, name + ".safetensors")
                    Safetensors.write p (file.Metadata |> Map.add "rnnad.training" progress |> Map.toList) file.Tensors
                    p
                let fields epoch batch steps = sprintf """{"epoch":%s,"batch":%s,"steps_done":%s,"optimizer_step":0}""" epoch batch steps
                for name, progress, fragment in
                    [ "array", "[]", "must be a JSON object"
                      "number", "5", "must be a JSON object"
                      "fraction", fields "1.5" "0" "0", "'epoch'"
                      "huge", fields "1180591620717411303424" "0" "0", "'epoch'"
                      "wrapping epoch", fields "4294967296" "0" "0", "'epoch'"
                      "wrapping batch", fields "0" "2147483648" "0", "'batch'"
                      "huge steps", fields "0" "0" "1e300", "'steps_done'"
                      "negative", fields "0" "-1" "0", "'batch'" ] do
                    TempFolder.throws<InvalidDataException, _> [ fragment ] (fun () -> TrainingCheckpoint.load (withProgress name progress)))
        }
        test "the monitor (best epoch, patience count, plateau) comes back to the bit, infinities included" {
            withFolder (fun dir ->
                let path = Path.Combine(dir, "t.safetensors")
                let monitor =
                    { Best = Some { Epoch = 3; Step = 12L; Value = 0.1 + 0.2 }
                      BestParameters = None
                      EpochsSinceBest = 2
                      Plateau = Some { Rate = 1e-3 / 3.0; Best = infinity; BadEpochs = 1; CooldownLeft = 2 } }
                let state = { Training.start options (SequenceModel.init spec 5) with Monitor = monitor }
                TrainingCheckpoint.save path spec None state
                let _, loaded = TrainingCheckpoint.load path
                Expect.equal loaded.Monitor monitor "the same monitor"
                // A checkpoint written before the monitor was saved resumes with nothing seen yet.
                let file = Safetensors.read path
                let old = Path.Combine(dir, "old.safetensors")
                Safetensors.write old (file.Metadata |> Map.add "rnnad.training" """{"epoch":0,"batch":1,"steps_done":1,"optimizer_step":1}""" |> Map.toList) file.Tensors
                Expect.equal (snd (TrainingCheckpoint.load old)).Monitor MonitorState.Empty "empty monitor"
                let bad = Path.Combine(dir, "bad.safetensors")
                Safetensors.write bad (file.Metadata |> Map.add "rnnad.training" """{"epoch":0,"batch":1,"steps_done":1,"optimizer_step":1,"monitor":{"epochs_since_best":0,"best":{"epoch":1,"step":3,"value":0.5}}}""" |> Map.toList) file.Tensors
                TempFolder.throws<InvalidDataException, _> [ "'value'"; "rnnad.training.monitor.best"; "number written as a string" ] (fun () -> TrainingCheckpoint.load bad))
        }
        test "the checkpoint holds exactly the model's tensors; the optimizer state lives beside it, one file per checkpoint" {
            withFolder (fun dir ->
                let path = Path.Combine(dir, "t.safetensors")
                let stateFiles () = Directory.GetFiles(dir, "t.training.*") |> Array.map Path.GetFileName
                let state = Training.start options (SequenceModel.init spec 5)
                // Files of the user's that look like state files but were not written for this checkpoint stay.
                File.WriteAllText(Path.Combine(dir, "t.training.notes.safetensors"), "mine")
                Safetensors.write (Path.Combine(dir, "t.training.0123456789abcdef.safetensors")) [] [||]
                let mine = stateFiles ()
                TrainingCheckpoint.save path spec None state
                let first = stateFiles () |> Array.except mine
                Expect.equal first.Length 1 "one state file"
                let tensors = (Safetensors.read path).Tensors |> Array.map fst |> Set.ofArray
                Expect.equal tensors (Set.ofArray (Checkpoint.load path).Parameters.Names) "a strict load finds no unexpected tensor"
                let after = { state with Optimizer = { state.Optimizer with Step = 7L } }
                TrainingCheckpoint.save path spec None after
                let second = stateFiles () |> Array.except mine
                Expect.equal second.Length 1 "the previous state file is gone"
                Expect.notEqual second first "a fresh name for each save"
                Expect.equal (Set.ofArray (stateFiles ())) (Set.union (Set.ofArray mine) (Set.ofArray second)) "the user's files remain"
                let _, loaded = TrainingCheckpoint.load path
                Expect.equal loaded.Optimizer.Step 7L "the latest state"
                Expect.equal (bits loaded.Optimizer.Buffers) (bits after.Optimizer.Buffers) "its buffers"
                TrainingCheckpoint.delete path
                Expect.isFalse (File.Exists path) "deleted"
                Expect.equal (stateFiles ()) mine "with its state, and only its")
        }
        test "a checkpoint whose optimizer state is missing or misnamed is refused naming the file; older one-file checkpoints still load" {
            withFolder (fun dir ->
                let path = Path.Combine(dir, "t.safetensors")
                let state = Training.start options (SequenceModel.init spec 5)
                TrainingCheckpoint.save path spec None state
                let file = Safetensors.read path
                let stateFile = Directory.GetFiles(dir, "t.training.*").[0]
                let moved = Path.Combine(dir, "elsewhere.safetensors")
                File.Move(stateFile, moved)
                TempFolder.throws<InvalidDataException, _> [ Path.GetFileName stateFile; "missing"; "travel with it" ] (fun () -> TrainingCheckpoint.load path)
                let withStateFile (name: string) =
                    let progress = file.Metadata.["rnnad.training"].Replace(Path.GetFileName stateFile, name)
                    Safetensors.write path (file.Metadata |> Map.add "rnnad.training" progress |> Map.toList) file.Tensors
                withStateFile "../elsewhere.safetensors"
                TempFolder.throws<InvalidDataException, _> [ "'state_file'"; "beside the checkpoint" ] (fun () -> TrainingCheckpoint.load path)
                // Before state files, the buffers were `optimizer.*` tensors of the checkpoint itself.
                let buffers = (Safetensors.read moved).Tensors
                let progress = file.Metadata.["rnnad.training"].Replace(sprintf ",\"state_file\":\"%s\"" (Path.GetFileName stateFile), "")
                Expect.isFalse (progress.Contains "state_file") "the older progress record"
                let old = Path.Combine(dir, "old.safetensors")
                Safetensors.write old (file.Metadata |> Map.add "rnnad.training" progress |> Map.toList)
                    (Array.append file.Tensors (buffers |> Array.map (fun (n, t) -> "optimizer." + n, t)))
                let _, loaded = TrainingCheckpoint.load old
                Expect.isNonEmpty buffers "Adam keeps buffers from the start"
                Expect.equal (bits loaded.Optimizer.Buffers) (bits state.Optimizer.Buffers) "the buffers")
        }
        test "the best checkpoint lives beside the last" {
            Expect.equal (TrainingCheckpoint.bestPath (Path.Combine("runs", "model.safetensors"))) (Path.Combine("runs", "model.best.safetensors")) "name.best.ext"
        }
        test "resuming past the end of an epoch's batches is refused: the data or batch size changed" {
            let state = { Training.start options (SequenceModel.init spec 5) with Batch = 7 }
            Check.throwsWith [ "after batch 7"; "has 3 batches" ] (fun () -> Training.fit (SequenceModel.model spec) options data ignore ignore CancellationToken.None state)
        }
        test "resuming with another optimizer is refused, naming both" {
            let state = Training.start options (SequenceModel.init spec 5)
            let sgd = { options with Optimizer = Optimizer.Sgd SgdOptions.Default }
            Check.throwsWith [ "exp_avg, exp_avg_sq buffers"; "SGD keeps no buffers" ] (fun () -> Training.fit (SequenceModel.model spec) sgd data ignore ignore CancellationToken.None state)
        }
    ]
