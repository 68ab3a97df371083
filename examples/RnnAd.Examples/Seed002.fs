namespace RnnAd.Examples

open System
open System.Collections.Generic
open System.Diagnostics
open System.Globalization
open System.IO
open RnnAd.FSharp
open RnnAd.FSharp.Data
open RnnAd.FSharp.Storage

/// Seeds 002 and 004: what the tensors of a recurrent layer look like (input, outputs and final state of a
/// batch of one-hot words, and what batch-first means), then a long sentence cut into sliding windows of 10
/// characters, learned by a 2-layer RNN with a linear head and read back from its argmax predictions.
[<RequireQualifiedAccess>]
module Seed002 =

    let private inv = CultureInfo.InvariantCulture
    let private f3 (x: float) = x.ToString("0.000", inv)
    let private f4 (x: float) = x.ToString("0.0000", inv)

    // ---- (a) The shapes tour of seed 004 -------------------------------------------------------------

    /// Seed 004's batch: three words of five letters over the alphabet h, e, l, o.
    let private words = [| "hello"; "eolll"; "lleel" |]

    let private alphabet = "helo"

    /// Runs the seed's nn.RNN(4, 2) on its batch both ways round and prints what every shape means.
    let private shapesTour (write: string -> unit) (seed: int) : (string * float) list =
        let batch, time, hidden = words.Length, words.[0].Length, 2
        let ids = words |> Array.collect (fun w -> w |> Seq.map (fun c -> alphabet.IndexOf c) |> Array.ofSeq)
        let x = Nn.oneHot alphabet.Length [| batch; time |] ids
        let rnn =
            Recurrent.init
                { Cell = Cells.rnnTanh; InputSize = alphabet.Length; HiddenSize = hidden; Layers = 1; Bidirectional = false; Dropout = 0.0 }
                (Seed.derive seed "shapes")
        let outputs, finals = Recurrent.run rnn RunOptions.Default None x
        let h = finals.[0].H
        let lastVsFinal =
            Array.map2 (fun a b -> abs (a - b)) ((outputs.Select(1, time - 1)).ToArray()) (h.ToArray()) |> Array.max
        let cell = rnn.Cells.[0].[0]
        write "(a) The shapes of a sequence batch (seed 004): an RNN layer with input_size 4 (one-hot h, e, l, o) and hidden_size 2."
        write (sprintf "    The batch: %s, %d sequences of %d letters." (words |> Array.map (sprintf "\"%s\"") |> String.concat ", ") batch time)
        write (sprintf "    input x                  (batch, time, input)  = %s" (Shape.format x.Shape))
        write (sprintf "    outputs                  (batch, time, hidden) = %s   outputs[b, t] is h_t of sequence b" (Shape.format outputs.Shape))
        write (sprintf "    final state h_n          %d state (layers × directions) of (batch, hidden) = %s; PyTorch stacks it as (1, %d, %d)"
                   finals.Length (Shape.format h.Shape) batch hidden)
        write (sprintf "    parameters               weight_ih_l0 %s, weight_hh_l0 %s, bias_ih_l0 %s, bias_hh_l0 %s"
                   (Shape.format cell.["weight_ih"].Shape) (Shape.format cell.["weight_hh"].Shape) (Shape.format cell.["bias_ih"].Shape) (Shape.format cell.["bias_hh"].Shape))
        write (sprintf "    The last step of the outputs is the final state: max |outputs[:, %d, :] − h_n| = %g." (time - 1) lastVsFinal)
        write "    The layer learns nothing about the batch or the sequence length: the same weights serve any (batch, time)."
        write "    RnnAd is batch-first: a batch is (batch, time, features), PyTorch's layout with batch_first=True (seed 002 sets"
        write "    it). PyTorch's default is time-first, (time, batch, features), and seed 004 keeps the default: PyTorch reads its"
        // PyTorch's time-first reading of the same array: index 0 is time, so sequence j is column j of the words.
        let columns = Array.init time (fun j -> String(words |> Array.map (fun w -> w.[j])))
        let timeFirst, timeFirstFinals = Recurrent.run rnn RunOptions.Default None (x.Permute [| 1; 0; 2 |])
        let back = timeFirst.Permute [| 1; 0; 2 |]
        write (sprintf "    (3, 5, 4) array as 3 time steps of a batch of 5, the sequences %s (the columns)," (columns |> Array.map (sprintf "\"%s\"") |> String.concat ", "))
        write (sprintf "    and its torch.Size([3, 5, 2]) is (time, batch, hidden). Run that way here (permute to %s, run, permute back):"
                   (Shape.format (x.Permute [| 1; 0; 2 |]).Shape))
        write (sprintf "    outputs %s, final state %s: the same shapes as before, other numbers, another meaning."
                   (Shape.format back.Shape) (Shape.format timeFirstFinals.[0].H.Shape))
        let dims (name: string) (shape: int[]) = shape |> Array.mapi (fun i d -> sprintf "%s.%d" name i, float d) |> List.ofArray
        [ yield! dims "tour.input" x.Shape
          yield! dims "tour.outputs" outputs.Shape
          yield "tour.final.states", float finals.Length
          yield! dims "tour.final" h.Shape
          yield "tour.lastOutputVsFinal", lastVsFinal
          yield! dims "tour.timeFirst.outputs" timeFirst.Shape ]

    // ---- (b) The long sentence -------------------------------------------------------------------------

    /// Seed 002's sentence.
    let private sentence =
        "if you want to build a ship, don't drum up people together to collect wood and don't assign them tasks and work, but rather teach them to long for the endless immensity of the sea."

    /// The seed's window length.
    let private windowLength = 10

    /// The seed's reading of the predictions: the first window's ten characters, then the last character of
    /// every later window (each window starts one character after the one before).
    let private reconstruct (vocabulary: Vocab) (time: int) (predicted: int[]) : string =
        let rows = Array.chunkBySize time predicted
        let ids = Array.append rows.[0] (rows.[1..] |> Array.map Array.last)
        String.Concat(Vocab.decode vocabulary ids)

    /// The best accuracy any model that starts every window from the same state can reach: at step t it sees
    /// only the window's first t + 1 characters, so windows sharing them get one prediction; for each shared
    /// beginning, the most frequent next character is the most that can be right. Counted from the data.
    let private prefixCeiling (windows: LanguageModelExample[]) : float =
        let counts = Dictionary<string, Dictionary<int, int>>()
        for w in windows do
            for t in 0 .. w.Input.Length - 1 do
                let key = String.Join(",", w.Input.[.. t])
                let next = match counts.TryGetValue key with | true, d -> d | _ -> (let d = Dictionary() in counts.[key] <- d; d)
                next.[w.Next.[t]] <- (match next.TryGetValue w.Next.[t] with | true, c -> c + 1 | _ -> 1)
        let best = counts.Values |> Seq.sumBy (fun d -> d.Values |> Seq.max)
        float best / float (windows |> Array.sumBy (fun w -> w.Input.Length))

    /// The fraction of positions whose largest logit is the target.
    let private accuracyOf (logits: RawTensor) (targets: int[]) : float =
        let predicted, _ = Reductions.argmaxDim -1 false (Layout.reshape [| targets.Length; -1 |] logits)
        float (Array.fold2 (fun n p y -> if p = y then n + 1 else n) 0 predicted targets) / float targets.Length

    /// Runs both parts: prints the shapes tour, trains on the sentence printing the reconstruction every 10
    /// updates, and writes the loss and accuracy curves into `options.OutputDirectory`.
    let run (options: ExampleOptions) : ExampleResult =
        let directory = ExampleOptions.ensureOutputDirectory options
        let write = options.Write
        let clock = Stopwatch.StartNew()
        // The lecture's torch.manual_seed(0); RnnAd's generator is not PyTorch's, so the initial weights differ.
        let seed = defaultArg options.Seed 0
        let iterations = if options.Quick then 20 else 100
        let metrics = ResizeArray<string * float>()

        write (sprintf "Seeds 002 and 004: the shapes of a recurrent layer, then a long sentence learned in windows of 10 (seed %d)." seed)
        if options.Quick then write (sprintf "Quick mode: %d updates instead of the seed's 100, so the sentence is not learned yet." iterations)
        write ""
        metrics.AddRange(shapesTour write seed)

        // The data: characters, a vocabulary of the distinct ones, every window of 10 with its next characters.
        let characters = Tokenize.characters sentence
        let vocabulary = Vocab.build VocabOptions.Default [ characters ]
        let ids = Vocab.encode vocabulary characters
        let windows = Windows.slide windowLength ids
        let batch = Batching.languageModel windows
        let v = vocabulary.Count
        // The seed's Net: nn.RNN(dic_size, hidden_size = dic_size, num_layers = 2, batch_first = True) and
        // nn.Linear(hidden_size, dic_size) at every step.
        let spec =
            { Cell = Cells.rnnTanh; Input = InputEncoding.OneHot v; HiddenSize = v; Layers = 2; Bidirectional = false
              Dropout = 0.0; Head = HeadKind.PerStep; HeadHidden = []; Outputs = v; Loss = Loss.crossEntropy }
        let ceiling = prefixCeiling windows
        write ""
        write "(b) A long sentence (seed 002):"
        write (sprintf "    \"%s\"" sentence)
        write (sprintf "    %d characters, %d distinct; windows of %d starting at every position but the last %d: %d windows, each with" sentence.Length v windowLength windowLength windows.Length)
        write (sprintf "    the same window shifted by one as its targets. One batch of all of them: x %s one-hot, targets %s."
                   (Shape.format [| batch.Batch; batch.Time; v |]) (Shape.format [| batch.Batch; batch.Time |]))
        write (sprintf "    Model: one-hot(%d) → 2-layer RNN tanh (hidden %d, the number of distinct characters, as the seed) → Linear(%d → %d)" v v v v)
        write (sprintf "    at every step; %d parameters. Adam, rate 0.1, %d updates on the whole batch, mean cross-entropy over all steps."
                   (SequenceModel.expectedShapes spec |> Array.sumBy (fun (_, s) -> Array.fold (*) 1 s)) iterations)
        let logits0, finals0 = SequenceModel.forward spec (SequenceModel.init spec seed) RunOptions.Default batch
        write (sprintf "    Shapes: logits %s (batch, time, classes); final states: %d (one per layer) of (batch, hidden) = %s."
                   (Shape.format logits0.Shape) finals0.Length (Shape.format finals0.[0].H.Shape))
        write "    Every 10 updates, the sentence read back as the seed reads it: the first window's predictions, then the last"
        write "    predicted character of every later window (the truth is the sentence without its first letter):"

        let optimizer = Optimizer.Adam AdamOptions.Default
        let target = sentence.Substring 1
        let show (updates: int) (ps: NamedTensors) =
            let m = Evaluation.metrics (SequenceModel.model spec) ps [ batch ]
            let text = reconstruct vocabulary batch.Time (Evaluation.predict (SequenceModel.model spec) ps batch)
            write (sprintf "    %3d  loss %s  accuracy %s  %s" updates (f3 m.Loss) (f3 m.Accuracy) text)
            m, text
        show 0 (SequenceModel.init spec seed) |> ignore
        // One full-batch Adam update per iteration; the loss and accuracy recorded are those of the forward pass
        // each update is computed from (the seed's `outputs`), so index i is the state after i updates.
        let history, (trained, _) =
            Array.init iterations id
            |> Array.mapFold (fun (ps, state) i ->
                // SequenceModel.loss's own computation, keeping the logits to measure the accuracy of the same pass.
                let logits = ref None
                let loss, grads =
                    Ad.Named.valueAndGrad (fun p ->
                        let z, _ = SequenceModel.forward spec p RunOptions.Default batch
                        logits.Value <- Some z.Value
                        Nn.crossEntropyWeighted Reduction.Mean None (Targets.classesOf batch.Targets) z) ps
                let next = Optimizers.step optimizer 0.1 ps state grads
                if (i + 1) % 10 = 0 then show (i + 1) (fst next) |> ignore
                (loss.ToScalar(), accuracyOf (Option.get logits.Value) (Targets.classesOf batch.Targets)), next)
                (let ps = SequenceModel.init spec seed in ps, Optimizers.init optimizer ps)
        let final = Evaluation.metrics (SequenceModel.model spec) trained [ batch ]
        let text = reconstruct vocabulary batch.Time (Evaluation.predict (SequenceModel.model spec) trained batch)
        let wrong = Seq.zip text target |> Seq.filter (fun (a, b) -> a <> b) |> Seq.length
        write ""
        write (sprintf "    After %d updates: loss %s, accuracy %s over all %d predicted characters; %d of the %d read back are wrong:"
                   iterations (f4 final.Loss) (f4 final.Accuracy) (Targets.classesOf batch.Targets).Length wrong text.Length)
        write (sprintf "    truth  %s" target)
        write (sprintf "    read   %s" text)
        if wrong > 0 then write (sprintf "           %s" (String(Seq.map2 (fun a b -> if a = b then ' ' else '^') text target |> Array.ofSeq)))
        // The windows that begin with the sentence's first character: from h = 0 and that one letter they all get
        // the same first prediction, so at most one of their next letters can be right.
        let first = ids.[0]
        let successors =
            windows |> Array.filter (fun w -> w.Input.[0] = first) |> Array.map (fun w -> vocabulary.Token w.Next.[0]) |> Array.distinct
        write (sprintf "    Why not accuracy 1: every window starts from h = 0, so at step t its prediction depends only on its first t + 1")
        write (sprintf "    characters. The %d windows that begin with '%s' continue with %s: one guess for all of them."
                   (windows |> Array.filter (fun w -> w.Input.[0] = first) |> Array.length) (vocabulary.Token first)
                   (successors |> Array.map (sprintf "'%s'") |> String.concat ", "))
        write (sprintf "    Counted from the data, no model that starts each window afresh can exceed accuracy %s here; this run reached %s."
                   (f4 ceiling) (f4 final.Accuracy))
        write "    The seed's reading hides this: only the first window's letters come from short contexts, every later one from a"
        write "    window's last step, which has seen ten characters. So the sentence read back can be perfect but for its first"
        write (sprintf "    letter, a guess from '%s' alone among those continuations (this run guessed '%c'%s)."
                   (vocabulary.Token first) text.[0] (if text.[0] = target.[0] then ", which happens to be right" else ""))
        if wrong <= 4 then
            write (sprintf "    RnnAd reproduces the seed: %d wrong characters in %d." wrong text.Length)
        else
            write (sprintf "    This initialisation has not got there in %d updates (%d wrong characters); the loss curve shows where it stands."
                       iterations wrong)
        // Measured while writing this example: of seeds 0 to 24, 17 read the sentence back with at most 4 wrong
        // characters after 100 updates and 8 did not (8 to 99 wrong), their losses 0.35 to 1.7.
        write "    (Of the 25 initialisations tried while writing this example, seeds 0 to 24, 17 read the sentence back with at"
        write "    most 4 wrong characters after 100 updates; the other 8 still had 8 to 99 wrong. The lecture shows one run.)"
        write "    Other differences from the seed: its char_set = list(set(sentence)) orders the characters arbitrarily, RnnAd's"
        write "    vocabulary by frequency (only argmax ties could notice); the seed prints before each update, so its last line is"
        write "    after 99 updates, and here the line after the last update is printed too."

        metrics.AddRange
            [ "sentence.windows", float windows.Length
              "sentence.vocabulary", float v
              "sentence.initialLoss", fst history.[0]
              "sentence.loss", final.Loss
              "sentence.accuracy", final.Accuracy
              "sentence.ceiling", ceiling
              "sentence.reconstructionErrors", float wrong
              "sentence.reconstructionLength", float text.Length
              "sentence.logits.0", float logits0.Shape.[0]
              "sentence.logits.1", float logits0.Shape.[1]
              "sentence.logits.2", float logits0.Shape.[2]
              "sentence.finalStates", float finals0.Length ]

        let losses = Array.append (Array.map fst history) [| final.Loss |]
        let accuracies = Array.append (Array.map snd history) [| final.Accuracy |]
        let steps = Array.init losses.Length float
        let file =
            Plotting.linePanels
                (sprintf "Seed 002: 2-layer RNN on %d windows of the sentence, Adam at rate 0.1" windows.Length)
                [ { Plotting.panel "loss" "mean cross-entropy" [ { Label = ""; X = steps; Y = losses } ] with
                      XLabel = "updates"; YRange = Some(0.0, 1.05 * Array.max losses) }
                  { Plotting.panel "accuracy over all predicted characters" "accuracy"
                        [ { Label = "accuracy"; X = steps; Y = accuracies }
                          { Label = sprintf "ceiling %s (windows start from h = 0)" (f3 ceiling); X = [| 0.0; float iterations |]; Y = [| ceiling; ceiling |] } ] with
                      XLabel = "updates"; YRange = Some(0.0, 1.0) } ]
                (Path.Combine(directory, "seed002-training.png"))
        metrics.Add("seconds", clock.Elapsed.TotalSeconds)
        write ""
        write (sprintf "Wrote 1 picture to %s in %.1f s." directory clock.Elapsed.TotalSeconds)
        { Files = [ file ]; Metrics = Map.ofSeq metrics }
