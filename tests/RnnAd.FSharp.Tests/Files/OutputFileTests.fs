module RnnAd.FSharp.Tests.Files.OutputFileTests

open System.IO
open Expecto
open RnnAd.FSharp.Data
open RnnAd.FSharp.Tests
open RnnAd.FSharp.Files

// What the paths are is set up with coreutils (mkfifo, ln) and .NET, never with the code under test.

let private write (path: string) = File.WriteAllText(path, "text")

[<Tests>]
let kinds =
    testList "Files/file kind" [
        test "regular files, directories, devices, FIFOs, sockets and nothing, links followed" {
            TempFolder.run (fun dir ->
                let file = Path.Combine(dir, "file.txt")
                write file
                let fifo = Path.Combine(dir, "pipe")
                TempFolder.fifo fifo
                let socket = Path.Combine(dir, "socket")
                use _ = TempFolder.socket socket
                let link = Path.Combine(dir, "link")
                File.CreateSymbolicLink(link, "file.txt") |> ignore
                let dangling = Path.Combine(dir, "dangling")
                File.CreateSymbolicLink(dangling, "nothing") |> ignore
                let cases =
                    [ file, FileKind.Regular; dir, FileKind.Directory; "/dev/null", FileKind.CharacterDevice; fifo, FileKind.Fifo
                      socket, FileKind.Socket; Path.Combine(dir, "absent"), FileKind.Missing; Path.Combine(file, "under-a-file"), FileKind.Missing
                      link, FileKind.Regular; dangling, FileKind.Missing
                      // The C string would end at the NUL and name the folder.
                      dir + "\000/file.txt", FileKind.Missing ]
                for path, kind in cases do
                    Expect.equal (FileKind.ofPath path) kind path)
        }
        test "describe names each kind as a message says it" {
            Expect.equal (FileKind.describe FileKind.CharacterDevice) "a character device" "device"
            Expect.equal (FileKind.describe FileKind.Fifo) "a FIFO (named pipe)" "FIFO"
        }
    ]

[<Tests>]
let check =
    testList "Files/output file" [
        test "a new file in an existing folder, or a regular file to replace, passes and leaves nothing behind" {
            TempFolder.run (fun dir ->
                let fresh = Path.Combine(dir, "new.safetensors")
                Expect.equal (OutputFile.check fresh []) fresh "the full path is returned"
                let existing = Path.Combine(dir, "old.safetensors")
                write existing
                Expect.equal (OutputFile.check existing []) existing "an existing regular file"
                Expect.equal (File.ReadAllText existing) "text" "and it is not touched"
                Expect.equal (Directory.GetFileSystemEntries dir |> Array.map Path.GetFileName) [| "old.safetensors" |] "nothing else left")
        }
        test "a symbolic link is checked and returned as the file it points at" {
            TempFolder.run (fun dir ->
                let link = Path.Combine(dir, "link")
                File.CreateSymbolicLink(link, "target.safetensors") |> ignore
                Expect.equal (OutputFile.check link []) (Path.Combine(dir, "target.safetensors")) "the link's target")
        }
        test "the output may not be an input: same path, another spelling, a symbolic or a hard link" {
            TempFolder.run (fun dir ->
                let text = Path.Combine(dir, "text.txt")
                write text
                Directory.CreateDirectory(Path.Combine(dir, "sub")) |> ignore
                let symbolic = Path.Combine(dir, "symbolic.txt")
                File.CreateSymbolicLink(symbolic, "text.txt") |> ignore
                let hard = Path.Combine(dir, "hard.txt")
                TempFolder.hardLink text hard
                for output in [ text; Path.Combine(dir, "sub", "..", "text.txt"); symbolic; hard ] do
                    TempFolder.throws<IOException, _> [ output; "the input '" + text + "'"; "same file" ] (fun () -> OutputFile.check output [ "other.txt"; text ])
                // The input may be given through a link too.
                TempFolder.throws<IOException, _> [ "same file" ] (fun () -> OutputFile.check text [ hard ])
                Expect.equal (File.ReadAllText text) "text" "the input is untouched")
        }
        test "a directory, device, FIFO or socket is refused naming what it is" {
            TempFolder.run (fun dir ->
                let fifo = Path.Combine(dir, "pipe")
                TempFolder.fifo fifo
                TempFolder.throws<IOException, _> [ dir; "is a directory" ] (fun () -> OutputFile.check dir [])
                TempFolder.throws<IOException, _> [ "/dev/null"; "is a character device" ] (fun () -> OutputFile.check "/dev/null" [])
                TempFolder.throws<IOException, _> [ fifo; "is a FIFO" ] (fun () -> OutputFile.check fifo [])
                Expect.equal (TempFolder.fileType fifo) "fifo" "left as it was")
        }
        test "a missing folder is refused, or created by checkCreatingDirectory; one that cannot be is refused" {
            TempFolder.run (fun dir ->
                let nested = Path.Combine(dir, "a", "b", "model.safetensors")
                TempFolder.throws<DirectoryNotFoundException, _> [ nested; Path.Combine(dir, "a", "b"); "does not exist" ] (fun () -> OutputFile.check nested [])
                Expect.isFalse (Directory.Exists(Path.Combine(dir, "a"))) "check creates nothing"
                Expect.equal (OutputFile.checkCreatingDirectory nested []) nested "created"
                Expect.isTrue (Directory.Exists(Path.Combine(dir, "a", "b"))) "the folders exist"
                let file = Path.Combine(dir, "file")
                write file
                let underFile = Path.Combine(file, "model.safetensors")
                TempFolder.throws<IOException, _> [ underFile; "cannot be created" ] (fun () -> OutputFile.checkCreatingDirectory underFile []))
        }
        test "a folder where no file can be created is refused before any work" {
            // procfs refuses new files even to root, for whom permission bits would not.
            TempFolder.throws<IOException, _> [ "/proc/model.safetensors"; "no file can be created in '/proc'" ] (fun () -> OutputFile.check "/proc/model.safetensors" [])
        }
    ]
