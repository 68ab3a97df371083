module RnnAd.FSharp.Tests.Data.TokenizeTests

open System
open Expecto
open RnnAd.FSharp.Tests
open RnnAd.FSharp.Data

// Expected token lists are written out by hand from the documented rules.

[<Tests>]
let tests =
    testList "Data/tokenize" [
        testList "characters" [
            test "ASCII: one token per character, spaces included" {
                Expect.equal (Tokenize.characters "hello world") [| "h"; "e"; "l"; "l"; "o"; " "; "w"; "o"; "r"; "l"; "d" |] "characters"
            }
            test "precomposed Korean syllables are one token each" {
                Expect.equal (Tokenize.characters "안녕 하세요") [| "안"; "녕"; " "; "하"; "세"; "요" |] "characters"
            }
            test "text elements keep combining marks, decomposed syllables, surrogate pairs and CR LF whole" {
                // e + COMBINING ACUTE; the jamo ᄒ ᅡ ᆫ (one syllable when decomposed); U+1F600 as a surrogate pair.
                let text = "e\u0301a\u1112\u1161\u11AB\U0001F600\r\nz"
                Expect.equal (Tokenize.characters text) [| "e\u0301"; "a"; "\u1112\u1161\u11AB"; "\U0001F600"; "\r\n"; "z" |] "text elements"
            }
            test "an empty text has no characters" { Expect.equal (Tokenize.characters "") [||] "empty" }
            test "a lone surrogate is not a character: refused naming its position" {
                let text = "ab" + string (char 0xDBFF) + "c"
                Check.throwsWith [ "index 2"; "U+DBFF"; "lone surrogate" ] (fun () -> Tokenize.characters text)
                Check.throwsWith [ "index 0"; "U+DC00" ] (fun () -> Tokenize.characters (string (char 0xDC00)))
            }
            test "every occurrence of a character is the same string instance, so a long text costs a reference per character" {
                let characters = Tokenize.characters "abcab\U0001F600\U0001F600e\u0301e\u0301"
                Expect.equal characters [| "a"; "b"; "c"; "a"; "b"; "\U0001F600"; "\U0001F600"; "e\u0301"; "e\u0301" |] "characters"
                for i, j in [ 0, 3; 1, 4; 5, 6; 7, 8 ] do
                    Expect.isTrue (Object.ReferenceEquals(characters.[i], characters.[j])) (sprintf "characters %d and %d are one instance" i j)
            }
        ]
        testList "words" [
            test "lower-cases, drops HTML line breaks and punctuation, keeps inner apostrophes and digits" {
                let review = "This movie was GREAT!<br /><br />I didn't like the 2nd half... 'Really'?"
                Expect.equal (Tokenize.words review) [| "this"; "movie"; "was"; "great"; "i"; "didn't"; "like"; "the"; "2nd"; "half"; "really" |] "words"
            }
            test "line breaks in any spelling separate words and never become the word br" {
                Expect.equal (Tokenize.words "one<BR/>two<br>three<br  />four") [| "one"; "two"; "three"; "four" |] "words"
            }
            test "hyphens, commas and quotes separate; the typographic apostrophe is the apostrophe" {
                Expect.equal (Tokenize.words "well-made, so-so \"fun\" don’t rock'n'roll") [| "well"; "made"; "so"; "so"; "fun"; "don't"; "rock'n'roll" |] "words"
            }
            test "letters of any script and combining marks are word characters" {
                Expect.equal (Tokenize.words "정말 좋은 영화! Cafe\u0301 ÉTÉ") [| "정말"; "좋은"; "영화"; "cafe\u0301"; "été" |] "words"
            }
            test "a text of punctuation and lone apostrophes has no words" {
                Expect.equal (Tokenize.words "'' ... ' !?") [||] "no words"
            }
        ]
    ]
