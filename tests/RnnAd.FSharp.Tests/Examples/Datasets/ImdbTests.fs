module RnnAd.FSharp.Tests.Examples.Datasets.ImdbTests

open System.IO
open System.Text
open Expecto
open RnnAd.FSharp.Data
open RnnAd.FSharp.Tests
open RnnAd.Examples.Datasets

/// Writes a file under `root` at a relative path, creating its folder.
let private put (root: string) (relative: string) (bytes: byte[]) =
    let path = Path.Combine(root, relative)
    Directory.CreateDirectory(Path.GetDirectoryName path) |> ignore
    File.WriteAllBytes(path, bytes)

let private utf8 (s: string) = Encoding.UTF8.GetBytes s

/// A hand-made IMDB folder: three negative and two positive training reviews, one of each in test, plus the
/// files real IMDB keeps beside the class folders (which the loader ignores).
let private handMade (root: string) =
    put root "train/neg/2_3.txt" (utf8 "Dull.")
    put root "train/neg/10_2.txt" (utf8 "Awful<br />film.")
    put root "train/neg/1_1.txt" (Array.append [| 0xEFuy; 0xBBuy; 0xBFuy |] (utf8 "Bad, bad."))
    put root "train/neg/notes.md" (utf8 "not a review")
    put root "train/pos/0_9.txt" (utf8 "Great!")
    put root "train/pos/5_10.txt" (utf8 "Loved it.")
    put root "train/urls_pos.txt" (utf8 "http://example.invalid")
    put root "train/unsup/0_0.txt" (utf8 "unlabelled")
    put root "test/neg/0_4.txt" (utf8 "Weak.")
    put root "test/pos/0_8.txt" (utf8 "Superb.")

let private review name text sentiment = { Name = name; Text = text; Sentiment = sentiment }

[<Tests>]
let tests =
    testList "Examples/datasets/imdb" [
        test "loads negatives then positives, files in ordinal name order, BOM dropped, other files ignored" {
            TempFolder.run (fun root ->
                handMade root
                let set = Imdb.load root None
                // Ordinal: "10_2.txt" < "1_1.txt" < "2_3.txt", since '0' (0x30) < '_' (0x5F).
                Expect.equal set.Train
                    [| review "10_2.txt" "Awful<br />film." Sentiment.Negative
                       review "1_1.txt" "Bad, bad." Sentiment.Negative
                       review "2_3.txt" "Dull." Sentiment.Negative
                       review "0_9.txt" "Great!" Sentiment.Positive
                       review "5_10.txt" "Loved it." Sentiment.Positive |] "train"
                Expect.equal set.Test [| review "0_4.txt" "Weak." Sentiment.Negative; review "0_8.txt" "Superb." Sentiment.Positive |] "test")
        }
        test "at most maxPerClass reviews of each class, the first by name" {
            TempFolder.run (fun root ->
                handMade root
                let train = Imdb.loadSplit root "train" (Some 1)
                Expect.equal (train |> Array.map (fun r -> r.Name)) [| "10_2.txt"; "0_9.txt" |] "one per class"
                Check.throwsWith [ "maxPerClass"; "got 0" ] (fun () -> Imdb.loadSplit root "train" (Some 0))
                Check.throwsWith [ "split"; "\"valid\"" ] (fun () -> Imdb.loadSplit root "valid" None))
        }
        test "a missing root or class folder raises naming the expected path" {
            TempFolder.run (fun root ->
                let absent = Path.Combine(root, "absent")
                TempFolder.throws<DirectoryNotFoundException, _> [ absent; "does not exist" ] (fun () -> Imdb.load absent None)
                handMade root
                Directory.Delete(Path.Combine(root, "test", "neg"), true)
                TempFolder.throws<DirectoryNotFoundException, _> [ "'test/neg'"; root ] (fun () -> Imdb.load root None)
                Expect.equal (Imdb.loadSplit root "train" None).Length 5 "the train split still loads")
        }
        test "a class folder without reviews, an empty review or bytes that are not UTF-8 raise naming them" {
            TempFolder.run (fun root ->
                handMade root
                for f in Directory.GetFiles(Path.Combine(root, "test", "pos")) do File.Delete f
                TempFolder.throws<InvalidDataException, _> [ "'test/pos'"; "no .txt review" ] (fun () -> Imdb.loadSplit root "test" None)
                put root "train/pos/9_9.txt" [| 0x20uy |]
                TempFolder.throws<InvalidDataException, _> [ "train/pos/9_9.txt"; "no text" ] (fun () -> Imdb.loadSplit root "train" None)
                put root "train/pos/9_9.txt" [| 0x61uy; 0xFFuy |]
                TempFolder.throws<InvalidDataException, _> [ "train/pos/9_9.txt"; "not valid UTF-8" ] (fun () -> Imdb.loadSplit root "train" None))
        }
        test "write then load gives the same review set back" {
            TempFolder.run (fun root ->
                let set = SyntheticReviews.generate 3 4 2
                Imdb.write root set
                Expect.equal (Imdb.load root None) set "round trip"
                Expect.isTrue (File.Exists(Path.Combine(root, "test", "pos", set.Test.[2].Name))) "files in the IMDB layout"
                Expect.isEmpty (Directory.GetFiles(root, "*.tmp", SearchOption.AllDirectories)) "no temporary file left")
        }
        test "write refuses folders that already hold reviews, bad names, repeated names and missing classes" {
            TempFolder.run (fun root ->
                let set = SyntheticReviews.generate 3 2 1
                Imdb.write root set
                TempFolder.throws<IOException, _> [ "'train/neg'"; "already holds reviews" ] (fun () -> Imdb.write root set)
                let other = Path.Combine(root, "other")
                let rename (name: string) = { set with Train = Array.updateAt 0 { set.Train.[0] with Name = name } set.Train }
                Check.throwsWith [ "'a/b.txt'"; "train/neg" ] (fun () -> Imdb.write other (rename "a/b.txt"))
                Check.throwsWith [ "'review'"; ".txt" ] (fun () -> Imdb.write other (rename "review"))
                Check.throwsWith [ set.Train.[1].Name; "twice"; "train/neg" ] (fun () -> Imdb.write other (rename set.Train.[1].Name))
                Check.throwsWith [ "'test/pos'" ] (fun () -> Imdb.write other { set with Test = set.Test.[0..0] })
                Expect.isFalse (Directory.Exists other) "nothing written when the set is refused")
        }
    ]
