namespace RnnAd.FSharp.Data

open MathNet.Numerics.Random
open RnnAd.FSharp
open RnnAd.FSharp.Storage

/// Turning examples into `Minibatch`es: padding and masks, seeded shuffling, mini-batches.
[<RequireQualifiedAccess>]
module Batching =

    let private requireExamples (name: string) (count: int) =
        if count = 0 then invalidArg name "a batch needs at least one example, got none"

    /// A PerStep batch of language-model examples, which must all have the same positive length: inputs
    /// and targets (batch · time, row-major), no mask.
    let languageModel (examples: LanguageModelExample[]) : Minibatch =
        if isNull examples then nullArg "examples"
        requireExamples "examples" examples.Length
        examples |> Array.iteri (fun i e ->
            if isNull e.Input || isNull e.Next then invalidArg "examples" (sprintf "example %d has null ids" i))
        let time = examples.[0].Input.Length
        examples |> Array.iteri (fun i e ->
            if e.Input.Length = 0 then invalidArg "examples" (sprintf "example %d is an empty sequence" i)
            if e.Next.Length <> e.Input.Length then
                invalidArg "examples" (sprintf "example %d has %d inputs but %d next tokens" i e.Input.Length e.Next.Length)
            if e.Input.Length <> time then
                invalidArg "examples" (sprintf "example %d has length %d, example 0 has %d: language-model batches need equal lengths" i e.Input.Length time))
        { Input = SequenceInput.Tokens(examples |> Array.collect (fun e -> e.Input))
          Batch = examples.Length
          Time = time
          Mask = None
          Targets = Targets.Classes(examples |> Array.collect (fun e -> e.Next)) }

    /// A LastStep batch of classification examples of any positive lengths, right-padded with `paddingId`
    /// to the longest: `Mask` is 1 on real steps and 0 on padding (always present), targets are the labels.
    /// The model carries its state across masked steps, so padding changes neither the loss nor the final state.
    let classification (paddingId: int) (examples: ClassificationExample[]) : Minibatch =
        if isNull examples then nullArg "examples"
        requireExamples "examples" examples.Length
        if paddingId < 0 then invalidArg "paddingId" (sprintf "the padding id must be non-negative, got %d" paddingId)
        examples |> Array.iteri (fun i e ->
            if isNull e.Tokens || e.Tokens.Length = 0 then invalidArg "examples" (sprintf "example %d is an empty sequence" i))
        let time = examples |> Array.map (fun e -> e.Tokens.Length) |> Array.max
        let ids = Array.create (examples.Length * time) paddingId
        let mask = Array.zeroCreate (examples.Length * time)
        examples |> Array.iteri (fun b e ->
            Array.blit e.Tokens 0 ids (b * time) e.Tokens.Length
            Array.fill mask (b * time) e.Tokens.Length 1.0)
        { Input = SequenceInput.Tokens ids
          Batch = examples.Length
          Time = time
          Mask = Some mask
          Targets = Targets.Classes(examples |> Array.map (fun e -> e.Label)) }

    /// The items in the order of epoch `epoch`'s shuffle: a Fisher–Yates shuffle driven by Xoshiro256** seeded
    /// with `Seed.deriveIndexed seed "shuffle" epoch`, so the same seed and epoch give the same order on any
    /// machine, and any epoch's order can be recomputed without replaying the earlier ones.
    let shuffle (seed: int) (epoch: int) (items: 'a[]) : 'a[] =
        if isNull items then nullArg "items"
        let rng = Xoshiro256StarStar(Seed.deriveIndexed seed "shuffle" (int64 epoch), false)
        let order = Array.copy items
        for i in order.Length - 1 .. -1 .. 1 do
            let j = rng.Next(i + 1)
            let t = order.[i]
            order.[i] <- order.[j]
            order.[j] <- t
        order

    /// Consecutive groups of `size` items in order; the last group holds the remainder and may be smaller.
    let chunks (size: int) (items: 'a[]) : 'a[][] =
        if isNull items then nullArg "items"
        if size <= 0 then invalidArg "size" (sprintf "the batch size must be positive, got %d" size)
        Array.chunkBySize size items

    /// The batches of one epoch: the examples shuffled for `epoch`, cut into groups of `size` (the last one
    /// smaller), each made into a batch by `toBatch` (e.g. `Batching.classification padId`).
    let epoch (seed: int) (epoch: int) (size: int) (toBatch: 'a[] -> Minibatch) (examples: 'a[]) : Minibatch[] =
        if isNull examples then nullArg "examples"
        if size <= 0 then invalidArg "size" (sprintf "the batch size must be positive, got %d" size)
        shuffle seed epoch examples |> chunks size |> Array.map toBatch

    /// The batches of the examples in their given order (validation, test), groups of `size`, the last smaller.
    let inOrder (size: int) (toBatch: 'a[] -> Minibatch) (examples: 'a[]) : Minibatch[] =
        chunks size examples |> Array.map toBatch
