namespace RnnAd.FSharp.Tests

open System
open System.Diagnostics
open System.IO
open System.Net.Sockets
open Expecto

/// Temporary folders for file tests, and checks of IO exceptions by type and message.
[<RequireQualifiedAccess>]
module TempFolder =

    /// Runs `f` with a fresh empty folder, deleted afterwards whatever happens.
    let run (f: string -> unit) : unit =
        let folder = Path.Combine(Path.GetTempPath(), "rnnad-data-tests-" + Guid.NewGuid().ToString "N")
        Directory.CreateDirectory folder |> ignore
        try f folder
        finally Directory.Delete(folder, true)

    /// Raises unless `f` throws an exception of type 'E whose message contains every fragment.
    let throws<'E, 'a when 'E :> exn> (fragments: string list) (f: unit -> 'a) : unit =
        let message =
            try
                f () |> ignore
                None
            with
            | :? 'E as e -> Some e.Message
            | e -> failtestf "expected %s mentioning %A, got %s: %s" typeof<'E>.Name fragments (e.GetType().Name) e.Message
        match message with
        | None -> failtestf "expected %s mentioning %A, nothing was thrown" typeof<'E>.Name fragments
        | Some m ->
            for fragment in fragments do
                Expect.stringContains m fragment "the error message names what is at fault"

    /// Runs a coreutils program and returns its standard output; fails the test when it fails. The tests use
    /// these rather than the library's own file checks, so that what they observe does not depend on the code
    /// under test.
    let private coreutils (program: string) (args: string list) : string =
        let info = ProcessStartInfo(program, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
        for a in args do
            info.ArgumentList.Add a
        use p = Process.Start info
        let out = p.StandardOutput.ReadToEnd()
        let error = p.StandardError.ReadToEnd()
        p.WaitForExit()
        if p.ExitCode <> 0 then failtestf "%s %s failed: %s" program (String.Join(" ", args)) error
        out.Trim()

    /// What `stat` says a path is, without following a final symbolic link: "regular file", "directory",
    /// "fifo", "socket", "character special file", "symbolic link", ...
    let fileType (path: string) : string = coreutils "stat" [ "-c"; "%F"; path ]

    /// Makes a FIFO (named pipe) at `path`.
    let fifo (path: string) : unit = coreutils "mkfifo" [ path ] |> ignore

    /// Makes `link` a second name (hard link) of the file `target`.
    let hardLink (target: string) (link: string) : unit = coreutils "ln" [ target; link ] |> ignore

    /// A Unix domain socket bound at `path`; disposing it closes the socket (the file stays).
    let socket (path: string) : IDisposable =
        let s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
        s.Bind(UnixDomainSocketEndPoint path)
        s :> IDisposable
