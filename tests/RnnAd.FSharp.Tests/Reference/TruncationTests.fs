module RnnAd.FSharp.Tests.Reference.TruncationTests

open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Reference
open RnnAd.FSharp.Tests
open RnnAd.FSharp.Tests.Reference.Cases

// Truncated BPTT with window k, as the AD side defines it (RunOptions.DetachEvery = Some k: the state entering
// reading steps k, 2k, … of each layer and direction is a constant). AD and the hand truncation must agree to
// docs/ARCHITECTURE.md §7.2's 1e-10; a window as long as the sequence must change nothing; a shorter one must change the
// gradient. A third, independent witness for unidirectional stacks: the truncated gradient is the sum of the
// gradients of the chunks' losses, each chunk starting from the (constant) state the full forward pass reached.

let private spec kind layers bidirectional head : ModelSpec =
    { Cell = Cells.ofKind kind
      Input = InputEncoding.OneHot 5
      HiddenSize = 4
      Layers = layers
      Bidirectional = bidirectional
      Dropout = 0.0
      Head = head
      HeadHidden = []
      Outputs = 3; Loss = Loss.crossEntropy }

let private batchFor (spec: ModelSpec) (seed: int) (batch: int) (time: int) (masked: bool) : Minibatch =
    let rng = System.Random seed
    { Input = inputFor rng seed spec batch time
      Batch = batch
      Time = time
      // Sequence 0 is padded after step time − 3, so truncation meets padding too.
      Mask = (if masked then Some(Array.init (batch * time) (fun k -> if k < time && k % time >= time - 2 then 0.0 else 1.0)) else None)
      Targets = Targets.Classes(Array.init (if spec.Head = HeadKind.PerStep then batch * time else batch) (fun _ -> rng.Next spec.Outputs)) }

let private time = 9

[<Tests>]
let tests =
    testList "Reference/truncated BPTT" [
        for kind in kinds do
            for layers, bidirectional, head in [ 1, false, HeadKind.PerStep; 2, true, HeadKind.PerStep; 2, false, HeadKind.LastStep; 1, true, HeadKind.LastStep ] do
                let s = spec kind layers bidirectional head
                let ps = SequenceModel.init s (layers * 7 + (if bidirectional then 1 else 0)) |> NamedTensors.map (fun _ t -> t * 1.5)
                let b = batchFor s 11 3 time (layers = 2)
                for k in [ 1; 2; 4; time; time + 3 ] do
                    test (sprintf "%s layers %d%s %A head, k = %d: AD = hand truncation" kind.Name layers (if bidirectional then " bidirectional" else "") head k) {
                        let options = { RunOptions.Default with DetachEvery = Some k }
                        let adLoss, ad = adGradients s ps options b
                        let bptt = Bptt.run s ps options b
                        Expect.floatClose { absolute = 0.0; relative = 1e-12 } bptt.Loss adLoss "truncation does not change the loss"
                        expectPass "parameter gradients" (GradientReport.compare "AD" "BPTT" GradientTolerance.AdVsBptt ad bptt.Parameters)
                        expectPass "∂L/∂h_t" (GradientReport.compare "AD" "BPTT" GradientTolerance.AdVsBptt (AdGradients.run s ps options b).Hidden bptt.Hidden)
                        let full = Bptt.run s ps RunOptions.Default b
                        let vsFull = GradientReport.compare "truncated" "full" GradientTolerance.AdVsBptt bptt.Parameters full.Parameters
                        if k >= time then
                            // No step τ < T is a positive multiple of k: the very same computation, to the bit.
                            for (name, g), (_, f) in Array.zip bptt.Parameters.Entries full.Parameters.Entries do
                                Expect.equal (g.ToArray()) (f.ToArray()) (sprintf "%s: k ≥ T is full BPTT" name)
                        else
                            // Cutting the recurrence drops whole terms of the chain rule: far above rounding.
                            Expect.isGreaterThan vsFull.MaxRelativeError 1e-3 "k < T changes the gradient"
                    }
        for kind in kinds do
            for layers in [ 1; 2 ] do
                for k in [ 1; 3 ] do
                    test (sprintf "%s layers %d, k = %d: the sum of chunk gradients from constant states (finite differences)" kind.Name layers k) {
                        let s = spec kind layers false HeadKind.PerStep
                        let ps = SequenceModel.init s (40 + layers)
                        let b = batchFor s 12 2 7 false
                        let ids = match b.Input with SequenceInput.Tokens ids -> ids | _ -> failwith "tokens expected"
                        // Columns [start, start + length) of a row-major (batch, time) array.
                        let slice (xs: 'a[]) start length = Array.init (b.Batch * length) (fun j -> xs.[(j / length) * b.Time + start + j % length])
                        let chunks = [ for start in 0 .. k .. b.Time - 1 -> start, min k (b.Time - start) ]
                        // The state every layer reached after `start` steps, with the parameters held at ps: a constant.
                        let stateAt start =
                            if start = 0 then None
                            else
                                let prefix = { b with Time = start; Input = SequenceInput.Tokens(slice ids 0 start); Targets = Targets.Classes(slice (Targets.classesOf b.Targets) 0 start) }
                                Some(snd (SequenceModel.forward s ps RunOptions.Default prefix))
                        let starts = chunks |> List.map (fun (start, _) -> stateAt start)
                        // L = (1/T) Σ_t ℓ_t = Σ_chunks (length/T)·mean of the chunk's ℓ_t.
                        let chunkedLoss (p: NamedTensors) =
                            List.zip chunks starts |> List.sumBy (fun ((start, length), initial) ->
                                let chunk = { b with Time = length; Input = SequenceInput.Tokens(slice ids start length); Targets = Targets.Classes(slice (Targets.classesOf b.Targets) start length) }
                                let loss = fst (SequenceModel.loss s p { RunOptions.Default with Initial = initial } chunk)
                                float length / float b.Time * loss.ToScalar())
                        let expected = FiniteDifferences.gradient chunkedLoss ps
                        let _, truncated = Bptt.lossAndGradients s ps (Some k) b
                        expectPass "truncated BPTT vs finite differences of the chunked loss" (GradientReport.compare "BPTT" "FD" GradientTolerance.FiniteDifferences truncated expected)
                    }
    ]
