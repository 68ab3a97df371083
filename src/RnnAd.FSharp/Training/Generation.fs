namespace RnnAd.FSharp

open System
open MathNet.Numerics.Random
open RnnAd.FSharp.Storage

/// How to pick each generated token.
type SamplingOptions =
    { /// Softmax temperature; 0 picks the most likely token (greedy).
      Temperature: float
      /// Sample only among the k most likely tokens (None: all).
      TopK: int option
      /// The seed of the draws: the same seed gives the same text.
      Seed: int }

    /// Greedy decoding.
    static member Greedy = { Temperature = 0.0; TopK = None; Seed = 0 }

/// Text generation from a language model (token inputs, PerStep head scoring the next token).
[<RequireQualifiedAccess>]
module Generation =

    /// Picks a token from one step's scores: argmax when greedy, else a draw from softmax(scores / T)
    /// restricted to the top k, using uniform `u` in [0, 1).
    let pick (options: SamplingOptions) (u: float) (scores: float[]) : int =
        if options.Temperature <= 0.0 then
            Reductions.argmaxAll (RawTensor.ofArray1 scores)
        else
            // Rank by score (index breaks ties, so the order is deterministic) and keep the top k.
            let ranked = Array.init scores.Length id |> Array.sortWith (fun a b -> match compare scores.[b] scores.[a] with 0 -> compare a b | c -> c)
            let kept = match options.TopK with Some k -> Array.truncate k ranked | None -> ranked
            let top = scores.[kept.[0]]
            let weights = kept |> Array.map (fun i -> exp ((scores.[i] - top) / options.Temperature))
            let target = u * Array.sum weights
            let mutable acc = 0.0
            let mutable chosen = kept.[kept.Length - 1]
            let mutable found = false
            for j in 0 .. kept.Length - 1 do
                acc <- acc + weights.[j]
                if not found && target < acc then
                    chosen <- kept.[j]
                    found <- true
            chosen

    /// `length` tokens continuing `prompt` with a model that scores the next token at every step from token
    /// inputs. The prompt is read once; each new token is fed back with the carried state, so the cost is
    /// one step per token.
    let sample (model: Model) (ps: NamedTensors) (prompt: int[]) (length: int) (options: SamplingOptions) : int[] =
        if isNull prompt || prompt.Length = 0 then invalidArg "prompt" "the prompt must hold at least one token"
        if length < 0 then invalidArg "length" (sprintf "length must be non-negative, got %d" length)
        if not (options.Temperature >= 0.0) || Double.IsInfinity options.Temperature then
            invalidArg "Temperature" (sprintf "the temperature must be finite and non-negative, got %g" options.Temperature)
        match options.TopK with
        | Some k when k <= 0 -> invalidArg "TopK" (sprintf "TopK must be positive, got %d" k)
        | _ -> ()
        if model.Head <> HeadKind.PerStep then invalidArg "model" "generation needs a model that predicts at every step (PerStep head)"
        if not model.Streamable then invalidArg "model" "this model cannot generate: it is not run step by step (a bidirectional model's backward direction reads the future)"
        if model.Loss.Targets <> TargetKind.Classes then invalidArg "model" (sprintf "generation needs a model that scores tokens; its %s loss compares real values" model.Loss.Name)
        let run (ids: int[]) (init: CellState[] option) =
            let batch = { Input = SequenceInput.Tokens ids; Batch = 1; Time = ids.Length; Mask = None; Targets = Targets.None }
            let logits, finals = model.Forward ps { RunOptions.Default with Initial = init } batch
            let v = logits.Value.ToArray()
            let classes = logits.Shape.[logits.Rank - 1]
            v.[v.Length - classes ..], finals
        let draw i = Xoshiro256StarStar(Seed.deriveIndexed options.Seed "sample" (int64 i), false).NextDouble()
        let out = Array.zeroCreate length
        let mutable scores, state = run prompt None
        for i in 0 .. length - 1 do
            let next = pick options (draw i) scores
            out.[i] <- next
            if i < length - 1 then
                let s, st = run [| next |] (Some state)
                scores <- s
                state <- st
        out
