namespace RnnAd.FSharp.Storage

/// Derivation of independent seeds from one user seed. Each random choice in RnnAd (a weight matrix, a
/// dropout mask, an epoch's shuffle) takes its own seed derived from the user's seed and a stable label,
/// so adding a parameter or an epoch never shifts the random numbers of the others, and a run can be
/// resumed at any step without replaying a generator.
[<RequireQualifiedAccess>]
module Seed =

    /// A 32-bit seed from a seed and a label (FNV-1a over the label, mixed with SplitMix64's finaliser).
    /// Stable across processes and platforms, unlike `String.GetHashCode`.
    let derive (seed: int) (label: string) : int =
        let mutable h = 14695981039346656037UL ^^^ uint64 (uint32 seed)
        for ch in label do
            h <- (h ^^^ uint64 ch) * 1099511628211UL
        h <- (h ^^^ (h >>> 30)) * 0xbf58476d1ce4e5b9UL
        h <- (h ^^^ (h >>> 27)) * 0x94d049bb133111ebUL
        h <- h ^^^ (h >>> 31)
        int (uint32 h)

    /// A seed for the n-th item of a labelled series (an epoch, a step, a layer).
    let deriveIndexed (seed: int) (label: string) (index: int64) : int = derive seed (label + "#" + string index)
