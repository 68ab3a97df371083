module RnnAd.FSharp.Tests.Data.VocabTests

open System
open Expecto
open RnnAd.FSharp.Data
open RnnAd.FSharp.Tests

// Counts in `corpus`, by hand: a 3, c 2, b 1, d 1. So the order is a, c (by frequency), then b, d (a tie,
// broken in ordinal order).
let private corpus = [ [| "b"; "a"; "c"; "a" |]; [| "c"; "d"; "a" |] ]

let private words = { VocabOptions.Default with Unknown = true; Padding = true }

[<Tests>]
let tests =
    testList "Data/vocabulary" [
        test "frequency descending, ties in ordinal order, no specials by default" {
            let v = Vocab.build VocabOptions.Default corpus
            Expect.equal v.Tokens [| "a"; "c"; "b"; "d" |] "tokens"
            Expect.equal v.Count 4 "count"
            Expect.equal v.PaddingId None "no padding"
            Expect.equal v.UnknownId None "no unknown"
        }
        test "ties are ordinal, not culture-aware: upper case before lower case, é after z" {
            // Ordinal: 'B' 0x42 < 'Z' 0x5A < 'a' 0x61 < 'z' 0x7A < 'é' 0xE9 (a culture order would put é after e).
            let v = Vocab.build VocabOptions.Default [ [| "é"; "z"; "a"; "Z"; "B" |] ]
            Expect.equal v.Tokens [| "B"; "Z"; "a"; "z"; "é" |] "tokens"
        }
        test "padding is id 0, then unknown, then the ordinary tokens" {
            let v = Vocab.build words corpus
            Expect.equal v.Tokens [| "<pad>"; "<unk>"; "a"; "c"; "b"; "d" |] "tokens"
            Expect.equal v.PaddingId (Some 0) "padding id"
            Expect.equal v.UnknownId (Some 1) "unknown id"
        }
        test "unknown alone is id 0; padding alone is id 0" {
            Expect.equal (Vocab.build { VocabOptions.Default with Unknown = true } corpus).Tokens [| "<unk>"; "a"; "c"; "b"; "d" |] "unknown only"
            let p = Vocab.build { VocabOptions.Default with Padding = true } corpus
            Expect.equal p.Tokens [| "<pad>"; "a"; "c"; "b"; "d" |] "padding only"
            Expect.equal p.UnknownId None "no unknown"
        }
        test "min frequency drops rarer tokens" {
            Expect.equal (Vocab.build { words with MinFrequency = 2 } corpus).Tokens [| "<pad>"; "<unk>"; "a"; "c" |] "min 2"
            Expect.equal (Vocab.build { words with MinFrequency = 3 } corpus).Tokens [| "<pad>"; "<unk>"; "a" |] "min 3"
        }
        test "max size counts ordinary tokens only and keeps the most frequent" {
            let v = Vocab.build { words with MaxSize = Some 3 } corpus
            Expect.equal v.Tokens [| "<pad>"; "<unk>"; "a"; "c"; "b" |] "max 3"
            Expect.equal (Vocab.build { words with MaxSize = Some 0 } corpus).Tokens [| "<pad>"; "<unk>" |] "max 0"
            Expect.equal (Vocab.build { words with MaxSize = Some 10 } corpus).Count 6 "max above the count"
        }
        test "the reserved spellings <pad> and <unk> in the text are never ordinary tokens" {
            let v = Vocab.build VocabOptions.Default [ [| "<pad>"; "x"; "<unk>"; "<unk>" |] ]
            Expect.equal v.Tokens [| "x" |] "tokens"
            Expect.equal (Vocab.encode (Vocab.build words [ [| "<unk>"; "x" |] ]) [| "<unk>"; "<pad>" |]) [| 1; 0 |] "specials encode to themselves"
        }
        test "encode maps unknown tokens to <unk> when there is one" {
            let v = Vocab.build words corpus
            Expect.equal (Vocab.encode v [| "a"; "zzz"; "d"; "c" |]) [| 2; 1; 5; 3 |] "ids"
        }
        test "encode without <unk> raises naming the token and its position" {
            let v = Vocab.build VocabOptions.Default corpus
            Check.throwsWith [ "'zzz'"; "position 2"; "no <unk>" ] (fun () -> Vocab.encode v [| "a"; "b"; "zzz" |])
        }
        test "decode inverts encode on known tokens; out-of-range ids raise naming id and position" {
            let v = Vocab.build words corpus
            let tokens = [| "d"; "a"; "<pad>"; "c"; "b" |]
            Expect.equal (Vocab.decode v (Vocab.encode v tokens)) tokens "round trip"
            Expect.equal (Vocab.decode v [| 0; 1; 2; 3; 4; 5 |]) [| "<pad>"; "<unk>"; "a"; "c"; "b"; "d" |] "every id"
            Check.throwsWith [ "id 6"; "position 1"; "[0, 6)" ] (fun () -> Vocab.decode v [| 2; 6 |])
            Check.throwsWith [ "id -1"; "position 0" ] (fun () -> Vocab.decode v [| -1 |])
            Check.throwsWith [ "id 9" ] (fun () -> v.Token 9)
        }
        test "ofTokens rebuilds the same vocabulary from its token list" {
            let v = Vocab.build words corpus
            let w = Vocab.ofTokens v.Tokens
            Expect.equal w.Tokens v.Tokens "tokens"
            Expect.equal (w.PaddingId, w.UnknownId) (v.PaddingId, v.UnknownId) "special ids"
            Expect.equal (Vocab.encode w [| "b"; "q" |]) [| 4; 1 |] "encoding"
        }
        test "ofTokens recognises specials by spelling and keeps any order but padding first" {
            let v = Vocab.ofTokens [| "x"; "<unk>"; "y" |]
            Expect.equal (v.PaddingId, v.UnknownId) (None, Some 1) "special ids"
            Check.throwsWith [ "<pad>"; "id 0"; "id 2" ] (fun () -> Vocab.ofTokens [| "x"; "y"; "<pad>" |])
        }
        test "ofTokens rejects repeated, empty and missing tokens" {
            Check.throwsWith [ "'b'"; "ids 1 and 3" ] (fun () -> Vocab.ofTokens [| "a"; "b"; "c"; "b" |])
            Check.throwsWith [ "token 1"; "empty" ] (fun () -> Vocab.ofTokens [| "a"; "" |])
            Check.throwsWith [ "at least one token" ] (fun () -> Vocab.ofTokens [||])
        }
        test "null arguments raise ArgumentNullException naming the argument" {
            let v = Vocab.build VocabOptions.Default corpus
            let nullOf (name: string) (f: unit -> obj) =
                match (try f () |> ignore; None with e -> Some e) with
                | Some (:? ArgumentNullException as e) -> Expect.equal e.ParamName name (sprintf "the argument named: %s" e.Message)
                | Some e -> failtestf "expected ArgumentNullException for %s, got %s: %s" name (e.GetType().Name) e.Message
                | None -> failtestf "expected ArgumentNullException for %s, nothing was thrown" name
            nullOf "token" (fun () -> box (v.TryId null))
            nullOf "vocabulary" (fun () -> box (Vocab.encode Unchecked.defaultof<Vocab> [| "a" |]))
            nullOf "vocabulary" (fun () -> box (Vocab.decode Unchecked.defaultof<Vocab> [| 0 |]))
            nullOf "options" (fun () -> box (Vocab.build Unchecked.defaultof<VocabOptions> corpus))
            // Null and empty tokens inside a list are ArgumentExceptions naming their position.
            Check.throwsWith [ "token 1"; "null" ] (fun () -> Vocab.ofTokens [| "a"; null |])
            Check.throwsWith [ "token 1 of sequence 0"; "null or empty" ] (fun () -> Vocab.build VocabOptions.Default [ [| "a"; "" |] ])
            Check.throwsWith [ "token 0"; "null" ] (fun () -> Vocab.encode v [| null |])
        }
        test "tokens that are not well-formed UTF-16 (a lone surrogate) are refused where they are given" {
            // They could never be saved with a model, so a vocabulary holding one would fail only after training.
            let lone = "x" + string (char 0xD800)
            Check.throwsWith [ "token 1"; "lone surrogate"; "U+D800" ] (fun () -> Vocab.ofTokens [| "a"; lone |])
            Check.throwsWith [ "token 2 of sequence 1"; "lone surrogate" ] (fun () -> Vocab.build VocabOptions.Default [ [| "a" |]; [| "b"; "c"; string (char 0xDC00) |] ])
            // A well-formed pair is one token like any other.
            Expect.equal (Vocab.ofTokens [| "😀" |]).Count 1 "a surrogate pair is fine"
        }
        test "the token list handed out is a copy" {
            let v = Vocab.build VocabOptions.Default corpus
            let tokens = v.Tokens
            tokens.[0] <- "changed"
            Expect.equal v.Tokens.[0] "a" "the vocabulary did not change"
        }
        test "invalid options and an empty result raise naming the option" {
            Check.throwsWith [ "MinFrequency"; "got 0" ] (fun () -> Vocab.build { words with MinFrequency = 0 } corpus)
            Check.throwsWith [ "MaxSize"; "got -1" ] (fun () -> Vocab.build { words with MaxSize = Some -1 } corpus)
            Check.throwsWith [ "empty"; "at least 4 times" ] (fun () -> Vocab.build { VocabOptions.Default with MinFrequency = 4 } corpus)
            Check.throwsWith [ "empty" ] (fun () -> Vocab.build VocabOptions.Default [])
        }
    ]
