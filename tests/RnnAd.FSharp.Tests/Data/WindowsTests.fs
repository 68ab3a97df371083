module RnnAd.FSharp.Tests.Data.WindowsTests

open System
open Expecto
open RnnAd.FSharp.Data
open RnnAd.FSharp.Tests

// "hello world" has 11 characters: h0 e1 l2 l3 o4 ␣5 w6 o7 r8 l9 d10. Its character vocabulary, by hand:
// l ×3, o ×2, then the singletons in ordinal order ␣ d e h r w, so l=0 o=1 ␣=2 d=3 e=4 h=5 r=6 w=7,
// and the text encodes to 5 4 0 0 1 2 7 1 6 0 3.
let private text = "hello world"

let private vocabulary = Vocab.build VocabOptions.Default [ Tokenize.characters text ]

let private ids = Vocab.encode vocabulary (Tokenize.characters text)

let private asText (ids: int[]) = System.String.Concat(Vocab.decode vocabulary ids)

[<Tests>]
let tests =
    testList "Data/windows" [
        test "the character vocabulary and encoding of hello world" {
            Expect.equal vocabulary.Tokens [| "l"; "o"; " "; "d"; "e"; "h"; "r"; "w" |] "vocabulary"
            Expect.equal ids [| 5; 4; 0; 0; 1; 2; 7; 1; 6; 0; 3 |] "ids"
        }
        test "windows of 3: i = 0 … 11 − 3 − 1 = 7, x = ids[i, i+3), y = ids[i+1, i+4)" {
            let windows = Windows.slide 3 ids
            let expected =
                [| "hel", "ell"; "ell", "llo"; "llo", "lo "; "lo ", "o w"; "o w", " wo"; " wo", "wor"; "wor", "orl"; "orl", "rld" |]
            Expect.equal (windows |> Array.map (fun w -> asText w.Input, asText w.Next)) expected "windows as text"
            Expect.equal windows.[0] { Input = [| 5; 4; 0 |]; Next = [| 4; 0; 0 |] } "first window's ids"
            Expect.equal windows.[7] { Input = [| 1; 6; 0 |]; Next = [| 6; 0; 3 |] } "last window's ids"
        }
        test "a stride of 3 starts windows at 0, 3 and 6" {
            let windows = Windows.strided 3 3 ids
            Expect.equal (windows |> Array.map (fun w -> asText w.Input, asText w.Next)) [| "hel", "ell"; "lo ", "o w"; "wor", "orl" |] "windows"
        }
        test "a text of exactly one window plus one token gives one window" {
            Expect.equal (Windows.slide 10 ids) [| { Input = ids.[0..9]; Next = ids.[1..10] } |] "one window"
        }
        test "a text shorter than one window plus one raises naming the sizes" {
            Check.throwsWith [ "11 tokens"; "window of 11"; "12 tokens needed" ] (fun () -> Windows.slide 11 ids)
            Check.throwsWith [ "0 tokens"; "window of 1" ] (fun () -> Windows.slide 1 [||])
        }
        test "sizes near int.MaxValue neither wrap around nor give an empty list" {
            // length + 1 overflows int: the check must still see a window far longer than the text.
            Check.throwsWith [ "11 tokens"; "window of 2147483647"; "2147483648 tokens needed" ] (fun () -> Windows.strided Int32.MaxValue 1 ids)
            Check.throwsWith [ "window of 2147483646"; "2147483647 tokens needed" ] (fun () -> Windows.strided (Int32.MaxValue - 1) 1 ids)
            // A stride longer than the text leaves the first window only.
            Expect.equal (Windows.strided 3 Int32.MaxValue ids |> Array.map (fun w -> asText w.Input)) [| "hel" |] "one window"
        }
        test "non-positive lengths and strides raise" {
            Check.throwsWith [ "length"; "got 0" ] (fun () -> Windows.slide 0 ids)
            Check.throwsWith [ "stride"; "got -1" ] (fun () -> Windows.strided 3 -1 ids)
        }
    ]
