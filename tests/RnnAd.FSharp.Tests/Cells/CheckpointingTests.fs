module RnnAd.FSharp.Tests.Cells.CheckpointingTests

open RnnAd
open System
open System.Collections.Generic
open System.Reflection
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Tests

let private spec kind : ModelSpec =
    { Cell = Cells.ofKind kind; Input = InputEncoding.Embedding(6, 3); HiddenSize = 5; Layers = 2; Bidirectional = true
      Dropout = 0.0; Head = HeadKind.PerStep; HeadHidden = []; Outputs = 6; Loss = Loss.crossEntropy }

let private batch time =
    let rng = Random 3
    let mask = Array.init (2 * time) (fun i -> if i >= time && i % time >= time - 3 then 0.0 else 1.0)
    { Input = SequenceInput.Tokens(Array.init (2 * time) (fun _ -> rng.Next 6)); Batch = 2; Time = time; Mask = Some mask
      Targets = Targets.Classes(Array.init (2 * time) (fun _ -> rng.Next 6)) }

/// The bytes of every array and string reachable from `root` through instance fields (closures, nodes,
/// tensors, buffers), each object counted once. Reflection metadata is not followed: it is shared with the
/// whole program, not held by the graph.
let private retainedBytes (root: obj) : int64 =
    let seen = HashSet<obj>(ReferenceEqualityComparer.Instance)
    let pending = Stack<obj>()
    let mutable total = 0L
    let visit (o: obj) =
        if not (isNull o) && not (o :? MemberInfo) && not (o :? Assembly) && not (o :? Pointer) && seen.Add o then pending.Push o
    visit root
    while pending.Count > 0 do
        let o = pending.Pop()
        match o with
        | :? string as text -> total <- total + 2L * int64 text.Length
        | :? Array as array ->
            let element = o.GetType().GetElementType()
            if element.IsPrimitive then total <- total + int64 array.Length * int64 (Buffer.ByteLength(Array.CreateInstance(element, 1)))
            else
                total <- total + 8L * int64 array.Length
                if not element.IsPointer then
                    for item in array do
                        visit item
        | _ ->
            let mutable t = o.GetType()
            while not (isNull t) do
                for field in t.GetFields(BindingFlags.Instance ||| BindingFlags.Public ||| BindingFlags.NonPublic ||| BindingFlags.DeclaredOnly) do
                    if not field.FieldType.IsPrimitive && not field.FieldType.IsPointer then visit (field.GetValue o)
                t <- t.BaseType
    total

[<Tests>]
let tests =
    testList "Cells/gradient checkpointing" [
        for kind in [ CellKind.RnnTanh; CellKind.Lstm; CellKind.Gru ] do
            for truncate in [ None; Some 4 ] do
                test (sprintf "%s: checkpointed segments give the plain gradient (truncation %A)" kind.Name truncate) {
                    let s = spec kind
                    let ps = SequenceModel.init s 1
                    let b = batch 11
                    let lossWith every = fun p -> fst (SequenceModel.loss s p { RunOptions.Default with CheckpointEvery = every; DetachEvery = truncate } b)
                    let plainLoss, plain = Ad.Named.valueAndGrad (lossWith None) ps
                    let checkpointedLoss, checkpointed = Ad.Named.valueAndGrad (lossWith (Some 3)) ps
                    // The recomputed forward pass is the same computation, so the loss is the same bits;
                    // gradients add the segments' parameter adjoints in another order (1e-12 relative).
                    Expect.equal (checkpointedLoss.ToArray()) (plainLoss.ToArray()) "loss"
                    for name in ps.Names do
                        Check.close name 1e-12 1e-15 (plain.[name].ToArray()) (checkpointed.[name].ToArray())
                }
        test "checkpointing shrinks the trace a long sequence keeps" {
            let s = { spec CellKind.Lstm with Bidirectional = false; Layers = 1; HiddenSize = 32 }
            let ps = SequenceModel.init s 1
            let b = { batch 400 with Mask = None }
            // What the pullback keeps alive is exactly the trace; measured on the object graph itself, so other
            // threads and the collector's timing do not enter the figure.
            let kept every =
                let _, pullback = Ad.Named.vjp (fun p -> fst (SequenceModel.loss s p { RunOptions.Default with CheckpointEvery = every } b)) ps
                float (retainedBytes pullback)
            let plain = kept None
            let checkpointed = kept (Some 20)
            // Per step the plain trace keeps the LSTM's activations (4 gates + tanh c) besides h and c; the
            // checkpointed one keeps h and the segment boundaries only: well under half.
            Expect.isLessThan checkpointed (plain / 2.0) (sprintf "kept %.0f KB checkpointed vs %.0f KB plain" (checkpointed / 1024.0) (plain / 1024.0))
        }
        test "a checkpointed function must take every differentiated value it reads as an input" {
            let outside = Tensor.Scalar 2.0
            let run () =
                Ad.grad (fun (x: Tensor) -> (Ad.checkpoint (fun xs -> xs.[0] * x) [| Tensor.Scalar 3.0 * x |]).Sum()) outside |> ignore
            Expect.throwsT<InvalidOperationException> run "refused, rather than a silently wrong gradient"
        }
    ]
