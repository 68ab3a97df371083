module RnnAd.FSharp.Tests.Reference.Cases

open System
open RnnAd.FSharp
open RnnAd.FSharp.Storage
open RnnAd.FSharp.Reference
open RnnAd.FSharp.Tests

// Seeded random models, parameters and batches for the reference tests. Every choice comes from a
// System.Random seeded by Seed.derive, so a case number always means the same network and data.

/// Upper bounds of a random configuration (lower bounds are 1).
type Limits =
    { Input: int
      Hidden: int
      Time: int
      Batch: int
      Layers: int }

/// One model, its parameters and a batch.
type Case =
    { Label: string
      Spec: ModelSpec
      Params: NamedTensors
      Batch: Minibatch }

let kinds = [| CellKind.RnnTanh; CellKind.RnnRelu; CellKind.Lstm; CellKind.Gru |]

/// Tokens or features for a batch of a spec, from `rng`.
let inputFor (rng: Random) (seed: int) (spec: ModelSpec) (batch: int) (time: int) : SequenceInput =
    match spec.Input with
    | InputEncoding.OneHot v
    | InputEncoding.Embedding (v, _) -> SequenceInput.Tokens(Array.init (batch * time) (fun _ -> rng.Next v))
    | InputEncoding.Features f -> SequenceInput.Features(Check.uniform seed -1.0 1.0 [| batch; time; f |])

/// A padding mask: none, padding at the end of each sequence (lengths 1..time), or random holes (each step real
/// with probability 0.7, the first step of every sequence always real: a sequence that is all padding is an error).
let maskFor (rng: Random) (batch: int) (time: int) : float[] option =
    match rng.Next 3 with
    | 0 -> None
    | 1 ->
        let lengths = Array.init batch (fun _ -> rng.Next(1, time + 1))
        Some(Array.init (batch * time) (fun k -> if k % time < lengths.[k / time] then 1.0 else 0.0))
    | _ -> Some(Array.init (batch * time) (fun k -> if k % time = 0 || rng.NextDouble() < 0.7 then 1.0 else 0.0))

/// Case number `index` within `limits`: the cell kind cycles through all four and the head alternates every
/// four cases, so any eight consecutive cases cover every kind with both heads; the rest is drawn. Parameters
/// are PyTorch's initialisation scaled by a factor in [0.5, 2), to reach the non-linear regime a trained
/// network sees, not only the near-linear one of initialisation.
let random (family: string) (limits: Limits) (index: int) : Case =
    let seed = Seed.derive 20240601 (sprintf "%s #%d" family index)
    let rng = Random seed
    let kind = kinds.[index % kinds.Length]
    let head = if (index / kinds.Length) % 2 = 0 then HeadKind.PerStep else HeadKind.LastStep
    let input = rng.Next(1, limits.Input + 1)
    let encoding =
        match rng.Next 3 with
        | 0 -> InputEncoding.OneHot input
        | 1 -> InputEncoding.Embedding(rng.Next(1, 7), input)
        | _ -> InputEncoding.Features input
    let spec =
        { Cell = Cells.ofKind kind
          Input = encoding
          HiddenSize = rng.Next(1, limits.Hidden + 1)
          Layers = rng.Next(1, limits.Layers + 1)
          Bidirectional = rng.Next 2 = 1
          Dropout = 0.0
          Head = head
          HeadHidden = (if rng.Next 3 = 0 then [ rng.Next(1, 6) ] else [])
          Outputs = rng.Next(2, 7); Loss = Loss.crossEntropy }
    let batch, time = rng.Next(1, limits.Batch + 1), rng.Next(1, limits.Time + 1)
    let scale = 0.5 + 1.5 * rng.NextDouble()
    let data =
        { Input = inputFor rng seed spec batch time
          Batch = batch
          Time = time
          Mask = maskFor rng batch time
          Targets = Targets.Classes(Array.init (if head = HeadKind.PerStep then batch * time else batch) (fun _ -> rng.Next spec.Outputs)) }
    let encodingText =
        match encoding with
        | InputEncoding.OneHot v -> sprintf "one-hot %d" v
        | InputEncoding.Embedding (v, d) -> sprintf "embedding %d×%d" v d
        | InputEncoding.Features f -> sprintf "features %d" f
    { Label =
        sprintf "#%d %s %s hidden %d layers %d%s head %A%s batch %d time %d%s scale %.2f"
            index kind.Name encodingText spec.HiddenSize spec.Layers (if spec.Bidirectional then " bidirectional" else "")
            head (if spec.HeadHidden.IsEmpty then "" else sprintf " mlp %A" spec.HeadHidden) batch time
            (match data.Mask with None -> "" | Some _ -> " masked") scale
      Spec = spec
      Params = SequenceModel.init spec seed |> NamedTensors.map (fun _ t -> t * scale)
      Batch = data }

/// The AD side's plain gradient, exactly what a training loop uses.
let adGradients (spec: ModelSpec) (ps: NamedTensors) (options: RunOptions) (batch: Minibatch) : float * NamedTensors =
    let loss, grads = Ad.Named.valueAndGrad (fun p -> fst (SequenceModel.loss spec p options batch)) ps
    loss.ToScalar(), grads

/// Fails with the report's table unless it passed.
let expectPass (what: string) (report: GradientReport) : unit =
    if not report.Passed then Expecto.Tests.failtestf "%s:\n%s" what (report.ToTable())
