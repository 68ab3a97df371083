namespace RnnAd.FSharp.Data

open System
open System.Collections.Generic
open System.Globalization
open System.Text
open System.Text.RegularExpressions

/// Splitting text into tokens: characters for language models (seeds 000–002), words for reviews (seed 003).
[<RequireQualifiedAccess>]
module Tokenize =

    /// The index of the first lone surrogate in `text` (a UTF-16 unit that is not half of a pair), or -1 when
    /// the text is well-formed UTF-16, which is what UTF-8 (files, checkpoints) can hold without loss.
    let internal firstLoneSurrogate (text: string) : int =
        let mutable found = -1
        let mutable i = 0
        while found < 0 && i < text.Length do
            // Surrogates are rare in most texts: jump to the next one instead of testing every unit.
            let next = text.AsSpan(i).IndexOfAnyInRange('\uD800', '\uDFFF')
            if next < 0 then i <- text.Length
            else
                let at = i + next
                if Char.IsHighSurrogate text.[at] && at + 1 < text.Length && Char.IsLowSurrogate text.[at + 1] then i <- at + 2
                else found <- at
        found

    /// The characters of a text as Unicode text elements (extended grapheme clusters): a Hangul syllable, a
    /// letter with its combining accents, an emoji made of a surrogate pair, or "\r\n", is one token. Splitting
    /// by UTF-16 `char` instead would cut surrogate pairs and decomposed syllables into tokens that are not
    /// text, and sampling could then emit half a character. For ASCII and precomposed Korean the two agree.
    /// Every occurrence of a character is the same string instance, so a long text costs one reference per
    /// character rather than one small string each (8 bytes instead of about 32). Raises naming the index when
    /// the text holds a lone surrogate, which is half of a character and no text.
    let characters (text: string) : string[] =
        if isNull text then nullArg "text"
        match firstLoneSurrogate text with
        | -1 -> ()
        | i ->
            invalidArg "text" (sprintf "the text holds a lone surrogate U+%04X at index %d (half of a UTF-16 pair), which is not a character" (int text.[i]) i)
        let ascii = Array.zeroCreate<string> 128
        let singles = Dictionary<char, string>()
        let clusters = Dictionary<string, string>(StringComparer.Ordinal)
        // One slot per UTF-16 unit is enough; most texts fill it exactly, and the rest are cut to size below.
        let result = Array.zeroCreate<string> text.Length
        let mutable count = 0
        let mutable i = 0
        while i < text.Length do
            let length = StringInfo.GetNextTextElementLength(text.AsSpan i)
            let c = text.[i]
            let element =
                if length = 1 && int c < 128 then
                    if isNull ascii.[int c] then ascii.[int c] <- string c
                    ascii.[int c]
                elif length = 1 then
                    match singles.TryGetValue c with
                    | true, s -> s
                    | _ ->
                        let s = string c
                        singles.[c] <- s
                        s
                else
                    let s = text.Substring(i, length)
                    match clusters.TryGetValue s with
                    | true, shared -> shared
                    | _ ->
                        clusters.[s] <- s
                        s
            result.[count] <- element
            count <- count + 1
            i <- i + length
        if count = result.Length then result else Array.sub result 0 count

    /// HTML line breaks as IMDB reviews hold them (`<br />`, also `<br/>` and `<br>`, any case).
    let private lineBreak = Regex(@"<br\s*/?>", RegexOptions.IgnoreCase ||| RegexOptions.CultureInvariant)

    /// Whether a scalar can be part of a word: letters, digits (any script) and combining marks, so that a
    /// decomposed accented letter stays inside its word.
    let private isWordRune (r: Rune) =
        Rune.IsLetterOrDigit r
        || (match Rune.GetUnicodeCategory r with
            | UnicodeCategory.NonSpacingMark
            | UnicodeCategory.SpacingCombiningMark
            | UnicodeCategory.EnclosingMark -> true
            | _ -> false)

    /// The words of a review, by this rule: lower-case (invariant culture); HTML line breaks become spaces;
    /// the right single quotation mark ’ counts as the apostrophe '; a word is a maximal run of letters,
    /// digits, combining marks and apostrophes, and everything else separates words; apostrophes at the
    /// edges of a word are quotation marks and are dropped ("'Great'" → "great"), those inside are kept
    /// ("didn't" stays one word); words left empty are dropped.
    let words (text: string) : string[] =
        if isNull text then nullArg "text"
        let cleaned = lineBreak.Replace(text, " ").Replace('\u2019', '\'').ToLowerInvariant()
        let result = ResizeArray<string>()
        let current = StringBuilder()
        let flush () =
            let word = current.ToString().Trim '\''
            if word.Length > 0 then result.Add word
            current.Clear() |> ignore
        let mutable position = 0
        // Invalid UTF-16 (a lone surrogate) enumerates as U+FFFD of length 1, which is not a word rune.
        for r in cleaned.EnumerateRunes() do
            if isWordRune r || r.Value = int '\'' then current.Append(cleaned, position, r.Utf16SequenceLength) |> ignore
            else flush ()
            position <- position + r.Utf16SequenceLength
        flush ()
        result.ToArray()
