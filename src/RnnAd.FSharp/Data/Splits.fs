namespace RnnAd.FSharp.Data

open System
open RnnAd.FSharp
open RnnAd.FSharp.Storage

/// Cutting examples into a training and a validation part: at random (seeded) for independent examples, in
/// order for series and texts, where a random cut would let overlapping windows carry validation values into
/// training.
[<RequireQualifiedAccess>]
module Splits =

    /// How many of `count` items go to training for a fraction, each part keeping at least one after `gap`
    /// items are dropped between them; raises naming the fraction and the counts otherwise.
    let trainCount (count: int) (trainFraction: float) (gap: int) : int =
        if not (trainFraction > 0.0 && trainFraction < 1.0) then
            invalidArg "trainFraction" (sprintf "the training fraction must be in (0, 1), got %g" trainFraction)
        if gap < 0 then invalidArg "gap" (sprintf "the gap must be non-negative, got %d" gap)
        let train = int (Math.Round(float count * trainFraction))
        if train < 1 || int64 train + int64 gap >= int64 count then
            invalidArg "trainFraction"
                (sprintf "%d examples cut at %g with a gap of %d leave %d for training and %d for validation; each needs at least one"
                     count trainFraction gap train (max 0L (int64 count - int64 train - int64 gap)))
        train

    /// The items in order, cut in two: the first `trainFraction` (rounded) for training, the rest for
    /// validation, with `gap` items dropped between them. Overlapping windows of a series share values across
    /// the cut; a gap of ⌈(window + horizon) / stride⌉ − 1 windows keeps every validation value out of training.
    let chronological (trainFraction: float) (gap: int) (items: 'a[]) : 'a[] * 'a[] =
        if isNull items then nullArg "items"
        let train = trainCount items.Length trainFraction gap
        items.[.. train - 1], items.[train + gap ..]

    /// A seeded random choice of the validation items (the same seed, the same choice on any machine), each part
    /// keeping the items' order; `trainFraction` (rounded) of them go to training.
    let random (seed: int) (trainFraction: float) (items: 'a[]) : 'a[] * 'a[] =
        if isNull items then nullArg "items"
        let train = trainCount items.Length trainFraction 0
        let chosen = Array.zeroCreate<bool> items.Length
        for i in (Batching.shuffle (Seed.derive seed "validation split") 0 (Array.init items.Length id)).[train ..] do
            chosen.[i] <- true
        let validation = ResizeArray(items.Length - train)
        let training = ResizeArray(train)
        items |> Array.iteri (fun i item -> if chosen.[i] then validation.Add item else training.Add item)
        training.ToArray(), validation.ToArray()
