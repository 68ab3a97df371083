module RnnAd.FSharp.Tests.Data.TextFileTests

open System
open System.IO
open System.Text
open Expecto
open RnnAd.FSharp.Data
open RnnAd.FSharp.Tests

let private text = "héllo 한국어\nline two"

[<Tests>]
let tests =
    testList "Data/text file" [
        test "UTF-8 with and without byte-order mark read the same text" {
            TempFolder.run (fun dir ->
                let plain, marked = Path.Combine(dir, "plain.txt"), Path.Combine(dir, "marked.txt")
                File.WriteAllBytes(plain, Encoding.UTF8.GetBytes text)
                File.WriteAllBytes(marked, Array.append [| 0xEFuy; 0xBBuy; 0xBFuy |] (Encoding.UTF8.GetBytes text))
                Expect.equal (TextFile.read plain) text "without BOM"
                Expect.equal (TextFile.read marked) text "with BOM (not part of the text)")
        }
        test "a missing file raises FileNotFoundException naming it" {
            TempFolder.run (fun dir ->
                let path = Path.Combine(dir, "nowhere.txt")
                TempFolder.throws<FileNotFoundException, _> [ path; "does not exist" ] (fun () -> TextFile.read path))
        }
        test "a directory, a device, a FIFO or a socket is named for what it is and never read" {
            TempFolder.run (fun dir ->
                TempFolder.throws<IOException, _> [ dir; "is a directory" ] (fun () -> TextFile.read dir)
                // Reading /dev/zero would never end and a FIFO would wait for a writer: refused before opening.
                TempFolder.throws<IOException, _> [ "/dev/zero"; "character device" ] (fun () -> TextFile.read "/dev/zero")
                TempFolder.throws<IOException, _> [ "/dev/null"; "character device" ] (fun () -> TextFile.read "/dev/null")
                let fifo = Path.Combine(dir, "pipe")
                TempFolder.fifo fifo
                TempFolder.throws<IOException, _> [ fifo; "FIFO" ] (fun () -> TextFile.read fifo)
                let socket = Path.Combine(dir, "socket")
                use _ = TempFolder.socket socket
                TempFolder.throws<IOException, _> [ socket; "socket" ] (fun () -> TextFile.read socket))
        }
        test "a file longer than one string can hold is refused before anything is read" {
            TempFolder.run (fun dir ->
                let path = Path.Combine(dir, "huge.txt")
                do
                    // Sparse: the length is set, no block is written.
                    use s = new FileStream(path, FileMode.CreateNew)
                    s.SetLength(TextFile.maxBytes + 1L)
                let before = GC.GetAllocatedBytesForCurrentThread()
                TempFolder.throws<InvalidDataException, _> [ path; "1,073,741,792 bytes"; "at most 1,073,741,791" ] (fun () -> TextFile.read path)
                Expect.isLessThan (GC.GetAllocatedBytesForCurrentThread() - before) (1L <<< 20) "bytes allocated while refusing it")
        }
        test "an empty file, a BOM alone and white space alone raise naming the file" {
            TempFolder.run (fun dir ->
                let write name (bytes: byte[]) =
                    let path = Path.Combine(dir, name)
                    File.WriteAllBytes(path, bytes)
                    path
                let empty = write "empty.txt" [||]
                TempFolder.throws<InvalidDataException, _> [ empty; "it is empty" ] (fun () -> TextFile.read empty)
                let bom = write "bom.txt" [| 0xEFuy; 0xBBuy; 0xBFuy |]
                TempFolder.throws<InvalidDataException, _> [ bom; "it is empty" ] (fun () -> TextFile.read bom)
                let blank = write "blank.txt" (Encoding.UTF8.GetBytes " \n\t ")
                TempFolder.throws<InvalidDataException, _> [ blank; "only white space" ] (fun () -> TextFile.read blank))
        }
        test "bytes that are not UTF-8 raise naming the file and the offset" {
            TempFolder.run (fun dir ->
                let path = Path.Combine(dir, "latin1.txt")
                File.WriteAllBytes(path, [| 0x61uy; 0x62uy; 0xE9uy; 0x63uy |]) // "abéc" in Latin-1: 0xE9 at offset 2
                TempFolder.throws<InvalidDataException, _> [ path; "not valid UTF-8"; "offset 2" ] (fun () -> TextFile.read path)
                File.WriteAllBytes(path, [| 0xEFuy; 0xBBuy; 0xBFuy; 0x61uy; 0x62uy; 0xE9uy; 0x63uy |]) // after a BOM: offset 5 in the file
                TempFolder.throws<InvalidDataException, _> [ path; "not valid UTF-8"; "offset 5" ] (fun () -> TextFile.read path))
        }
        test "readCharacters: the text elements, or an error when shorter than one window plus one" {
            TempFolder.run (fun dir ->
                let path = Path.Combine(dir, "short.txt")
                File.WriteAllText(path, "안녕 세상", UTF8Encoding false)
                Expect.equal (TextFile.readCharacters path 4) [| "안"; "녕"; " "; "세"; "상" |] "5 characters fill a window of 4 plus one"
                TempFolder.throws<InvalidDataException, _> [ path; "5 characters"; "window of 5"; "6 needed" ] (fun () -> TextFile.readCharacters path 5)
                Check.throwsWith [ "window length"; "got 0" ] (fun () -> TextFile.readCharacters path 0)
                // The window plus one is counted without wrapping around int.MaxValue.
                TempFolder.throws<InvalidDataException, _> [ path; "window of 2147483647"; "2147483648 needed" ] (fun () -> TextFile.readCharacters path Int32.MaxValue))
        }
    ]
