namespace RnnAd.FSharp.Data

/// Language-model examples cut from one long encoded text (seed 002: a long sentence in windows of 10).
[<RequireQualifiedAccess>]
module Windows =

    /// Windows of `length` ids starting every `stride` ids: x = ids[i .. i+length), y = ids[i+1 .. i+length+1)
    /// for i = 0, stride, 2·stride, … while i + length + 1 ≤ n. Raises naming the sizes when the text is
    /// shorter than one window plus the token that follows it.
    let strided (length: int) (stride: int) (ids: int[]) : LanguageModelExample[] =
        if isNull ids then nullArg "ids"
        if length <= 0 then invalidArg "length" (sprintf "the window length must be positive, got %d" length)
        if stride <= 0 then invalidArg "stride" (sprintf "the stride must be positive, got %d" stride)
        // In int64: length + 1 wraps around for length = Int32.MaxValue and would let the check pass.
        let needed = int64 length + 1L
        if int64 ids.Length < needed then
            invalidArg "ids" (sprintf "a text of %d tokens is shorter than one window of %d plus the token after it (%d tokens needed)" ids.Length length needed)
        let count = (ids.Length - length - 1) / stride + 1
        Array.init count (fun k ->
            let i = k * stride
            { Input = Array.sub ids i length; Next = Array.sub ids (i + 1) length })

    /// Every window of `length` ids, one starting at each position i = 0 … n − length − 1 (seed 002's
    /// `for i in range(0, len(sentence) - sequence_length)`).
    let slide (length: int) (ids: int[]) : LanguageModelExample[] = strided length 1 ids
