namespace RnnAd.FSharp.Data

open System
open System.Globalization
open System.Text
open System.Text.RegularExpressions

/// Splitting text into tokens: characters for language models (seeds 000–002), words for reviews (seed 003).
[<RequireQualifiedAccess>]
module Tokenize =

    /// The characters of a text as Unicode text elements (extended grapheme clusters): a Hangul syllable, a
    /// letter with its combining accents, an emoji made of a surrogate pair, or "\r\n", is one token. Splitting
    /// by UTF-16 `char` instead would cut surrogate pairs and decomposed syllables into tokens that are not
    /// text, and sampling could then emit half a character. For ASCII and precomposed Korean the two agree.
    let characters (text: string) : string[] =
        if isNull text then nullArg "text"
        let elements = StringInfo.GetTextElementEnumerator text
        [| while elements.MoveNext() do
               elements.GetTextElement() |]

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
