// A cell of your own in RnnAd: the minimal gated unit (Zhou et al., 2016) written as its equations, trained
// on "hello hello …" through the library's trainer, gradient-checked and saved. Run:
// dotnet run -c Release --project examples/FSharpCustomCell [-- --quick]
module FSharpCustomCell

open System.IO
open System.Threading
open RnnAd
open RnnAd.FSharp
open RnnAd.FSharp.Data
open RnnAd.FSharp.Reference

// f = σ(W_f x + b_f + U_f h),  n = tanh(W_n x + b_n + U_n (f ⊙ h)),  h' = (1 − f) ⊙ h + f ⊙ n
let mgu =
    Cell.create "MGU"
        [ Cell.parameter "weight_ih" (fun input hidden -> [| 2 * hidden; input |])
          Cell.parameter "weight_hf" (fun _ hidden -> [| hidden; hidden |])
          Cell.parameter "weight_hn" (fun _ hidden -> [| hidden; hidden |])
          Cell.parameterWith (Initializer.Constant 0.0) "bias" (fun _ hidden -> [| 2 * hidden |]) ]
        1
        (fun p s x ->
            let xi = (Nn.linear p.["weight_ih"] p.["bias"] x).Chunk(2, 1)
            let f = Nn.sigmoid (xi.[0] + Nn.linearNoBias p.["weight_hf"] s.H)
            let n = tanh (xi.[1] + Nn.linearNoBias p.["weight_hn"] (f * s.H))
            CellState.Of((1.0 - f) * s.H + f * n))

/// Trains the cell, checks its gradient against finite differences, saves and reloads it; true if the check passed.
let run (quick: bool) (write: string -> unit) : bool =
    let text = String.replicate 20 "hello " |> Seq.map (fun c -> "ehlo ".IndexOf c) |> Array.ofSeq
    let batches = Windows.strided 12 2 text |> Batching.inOrder 8 Batching.languageModel
    let spec =
        { Cell = mgu; Input = InputEncoding.Embedding(5, 4); HiddenSize = 16; Layers = 1; Bidirectional = false; Dropout = 0.0
          Head = HeadKind.PerStep; HeadHidden = []; Outputs = 5; Loss = Loss.crossEntropy }
    let model = SequenceModel.model spec
    let options = { TrainingOptions.Default with Schedule = Schedule.Constant 0.02; Epochs = (if quick then 5 else 40); ClipNorm = Some 1.0; Seed = 1 }
    let data = { Train = (fun _ -> batches); Validation = None }
    let trained, history = Training.fit model options data ignore ignore CancellationToken.None (Training.start options (model.Init 7))
    let accuracy = (Evaluation.metrics model trained.Parameters batches).Accuracy
    write (sprintf "loss %.4f -> %.4f over %d epochs; accuracy %.3f" history.Head.TrainLoss (List.last history).TrainLoss history.Length accuracy)
    let _, check = GradCheck.againstFiniteDifferences model trained.Parameters GradientTolerance.FiniteDifferences batches.[0]
    write (sprintf "AD vs finite differences: %s (worst relative error %s)" (if check.Passed then "PASS" else "FAIL") (check.MaxRelativeError.ToString "0.0e+00"))
    let path = Path.Combine(Path.GetTempPath(), sprintf "rnnad-mgu-%d.safetensors" System.Environment.ProcessId)
    Checkpoint.save path spec None trained.Parameters
    let loaded = Checkpoint.loadWith { LoadOptions.Default with Cells = [ mgu ] } path
    File.Delete path
    write (sprintf "saved and reloaded the %s model: same predictions %b" loaded.Spec.Cell.Name
               (Evaluation.predict model loaded.Parameters batches.[0] = Evaluation.predict model trained.Parameters batches.[0]))
    check.Passed

[<EntryPoint>]
let main argv = if run (Array.contains "--quick" argv) (printfn "%s") then 0 else 1
