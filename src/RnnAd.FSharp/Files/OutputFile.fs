namespace RnnAd.FSharp.Files

open System
open System.IO
open System.Runtime.InteropServices

/// Output files: where a write really lands, whether it may land there, and the temporary files of atomic
/// writes. Files are sacred: an output never replaces an input, a directory, a device, a FIFO or a socket,
/// and a long computation checks its output before it starts rather than losing its result at the end.
[<RequireQualifiedAccess>]
module OutputFile =

    /// The file a write to `path` replaces: the full path, with a final symbolic link followed to the file it
    /// points at (which need not exist yet). Writing there keeps the link and gives its target the new file,
    /// as a shell's `>` does; renaming onto the link itself would silently turn it into a plain file.
    /// Raises IOException for a loop of links.
    let resolve (path: string) : string =
        if String.IsNullOrEmpty path then invalidArg "path" "the path is null or empty"
        let full = Path.GetFullPath path
        let info = FileInfo full
        // Exists looks at the path itself (a link to nothing exists); resolving a path with nothing there raises.
        if not info.Exists then full
        else
            match info.ResolveLinkTarget true with
            | null -> full
            | target -> target.FullName

    /// Raises IOException, the message starting with `cannot`, unless `target` is a regular file or nothing.
    let internal requireRegularOrMissing (cannot: string) (target: string) : unit =
        match FileKind.ofPath target with
        | FileKind.Missing
        | FileKind.Regular -> ()
        | kind -> raise (IOException(sprintf "%s: it is %s, and only a regular file is ever written" cannot (FileKind.describe kind)))

    /// Whether two paths name one file: the same device and inode where the system tells them (hard and
    /// symbolic links, any spelling), else the same resolved full path.
    let internal sameFile (a: string) (b: string) : bool =
        match FileKind.identity a, FileKind.identity b with
        | Some x, Some y -> x = y
        | _ ->
            let comparison =
                if RuntimeInformation.IsOSPlatform OSPlatform.Linux then StringComparison.Ordinal else StringComparison.OrdinalIgnoreCase
            String.Equals(resolve a, resolve b, comparison)

    // Temporary files are named ".<target name>.<32 hex digits>.tmp" beside their target: hidden, unique, and
    // recognisable as belonging to that target alone.

    let private temporarySuffix = ".tmp"

    /// A fresh temporary path beside `target` (a full path).
    let internal temporaryPath (target: string) : string =
        Path.Combine(Path.GetDirectoryName target, sprintf ".%s.%s%s" (Path.GetFileName target) (Guid.NewGuid().ToString "N") temporarySuffix)

    /// Whether `candidate` (a file name) is a temporary file of `target` (a full path) as `temporaryPath` names them.
    let internal isTemporaryOf (target: string) (candidate: string) : bool =
        let prefix = "." + Path.GetFileName target + "."
        candidate.Length = prefix.Length + 32 + temporarySuffix.Length
        && candidate.StartsWith(prefix, StringComparison.Ordinal)
        && candidate.EndsWith(temporarySuffix, StringComparison.Ordinal)
        && candidate.AsSpan(prefix.Length, 32).IndexOfAnyExcept("0123456789abcdef".AsSpan()) < 0

    /// The sharing a writer holds its temporary file with. FileShare.None makes .NET take an exclusive `flock`
    /// on Unix, which the kernel releases when the process dies however it dies: a lock held means a live
    /// writer. Windows needs FileShare.Delete to rename a file that is still open, and refuses other openers
    /// anyway.
    let private held = if RuntimeInformation.IsOSPlatform OSPlatform.Windows then FileShare.Delete else FileShare.None

    /// Creates a new temporary file beside `target` (a full path), held exclusively until the stream is
    /// disposed, so that no other writer's cleanup takes it for an orphan.
    let internal createTemporary (target: string) : string * FileStream =
        let path = temporaryPath target
        path, new FileStream(path, FileMode.CreateNew, FileAccess.Write, held, 65536)

    /// Whether .NET's file locking is switched off (DOTNET_SYSTEM_IO_DISABLEFILELOCKING), in which case a lock
    /// proves nothing and no temporary file may be taken for an orphan.
    let private lockingDisabled () =
        match AppContext.TryGetSwitch "System.IO.DisableFileLocking" with
        | true, disabled -> disabled
        | _ ->
            match Environment.GetEnvironmentVariable "DOTNET_SYSTEM_IO_DISABLEFILELOCKING" with
            | null -> false
            | v -> v = "1" || v.Equals("true", StringComparison.OrdinalIgnoreCase)

    /// Removes the temporary files of `target` (a full path) that no live process holds: what a writer killed
    /// mid-write (kill -9, power loss) left behind. Each is taken with the same exclusive lock a writer holds,
    /// and deleted only if that succeeds. Best effort: anything it cannot do is left as it was.
    let internal removeOrphans (target: string) : unit =
        if not (lockingDisabled ()) then
            let directory = Path.GetDirectoryName target
            let candidates =
                try Directory.GetFiles(directory, "*" + temporarySuffix) with
                | :? IOException
                | :? UnauthorizedAccessException -> [||]
            for candidate in candidates do
                if isTemporaryOf target (Path.GetFileName candidate) then
                    try
                        // DeleteOnClose: the file goes while the lock is still ours, so no writer can start on it.
                        use _ = new FileStream(candidate, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose)
                        ()
                    with
                    | :? IOException
                    | :? UnauthorizedAccessException -> ()

    /// Writes a file atomically: `write` fills a temporary file beside the target (so that the final rename
    /// stays within one file system, where it is atomic: readers see the old file or the new one, never a
    /// mixture), which is flushed to disk and then renamed over the target. A failure leaves any existing file
    /// untouched and removes the temporary one. The target is `path` with a final symbolic link followed
    /// (`resolve`); it must be a regular file or nothing, else IOException. The temporary file stays open, and
    /// so locked against other writers' cleanup (`removeOrphans`, run first), until it has replaced the
    /// target. `beforeCommit` runs on the finished temporary file just before the rename (tests make a write
    /// fail there). IO errors are raised as IOException whose message starts with `cannot`.
    let internal writeAtomically (cannot: string) (beforeCommit: string -> unit) (path: string) (write: Stream -> unit) : unit =
        let target =
            try resolve path
            with :? IOException as e -> raise (IOException(sprintf "%s: %s" cannot e.Message, e))
        let directory = Path.GetDirectoryName target
        if not (Directory.Exists directory) then
            raise (DirectoryNotFoundException(sprintf "%s: the directory '%s' does not exist" cannot directory))
        requireRegularOrMissing cannot target
        removeOrphans target
        let temp, stream = createTemporary target
        try
            try
                write (stream :> Stream)
                // Data on disk before the rename, so a crash cannot leave a renamed but empty file.
                stream.Flush true
                beforeCommit temp
                File.Move(temp, target, true)
            finally
                stream.Dispose()
        with e ->
            try File.Delete temp with _ -> ()
            match e with
            | :? IOException
            | :? UnauthorizedAccessException -> raise (IOException(sprintf "%s: %s" cannot e.Message, e))
            | _ -> reraise ()

    let private check' (createDirectory: bool) (path: string) (inputs: seq<string>) : string =
        if String.IsNullOrWhiteSpace path then invalidArg "path" "the output path is empty"
        if isNull inputs then nullArg "inputs"
        let cannot = sprintf "cannot write '%s'" path
        let target =
            try resolve path
            with :? IOException as e -> raise (IOException(sprintf "%s: %s" cannot e.Message, e))
        requireRegularOrMissing cannot target
        for input in inputs do
            if not (String.IsNullOrEmpty input) && FileKind.ofPath input <> FileKind.Missing && sameFile target input then
                raise (IOException(sprintf "%s: it is the input '%s' (the same file), which writing would destroy" cannot input))
        let directory = Path.GetDirectoryName target
        if not (Directory.Exists directory) then
            if not createDirectory then
                raise (DirectoryNotFoundException(sprintf "%s: the directory '%s' does not exist" cannot directory))
            try Directory.CreateDirectory directory |> ignore
            with
            | :? IOException
            | :? UnauthorizedAccessException as e ->
                raise (IOException(sprintf "%s: the directory '%s' cannot be created (%s)" cannot directory e.Message, e))
        // A file created and deleted beside the target proves the atomic write's temporary file can be made.
        try
            use _ = new FileStream(temporaryPath target, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)
            ()
        with
        | :? IOException
        | :? UnauthorizedAccessException as e ->
            raise (IOException(sprintf "%s: no file can be created in '%s' (%s)" cannot directory e.Message, e))
        target

    /// Checks, before long work starts, that its result can be written to `path`: that path names nothing yet
    /// or a regular file (symbolic links followed, see `resolve`), none of `inputs` is that same file (by
    /// device and inode where the system tells them, so hard and symbolic links and other spellings count),
    /// its directory exists, and a file can be created there. Returns the file the write will replace.
    /// Raises ArgumentException for an empty path, DirectoryNotFoundException for a missing directory and
    /// IOException for anything else, each naming the path and what is wrong. Nothing is left behind.
    let check (path: string) (inputs: seq<string>) : string = check' false path inputs

    /// `check`, creating the output's directory (and its parents) when it is missing instead of refusing.
    let checkCreatingDirectory (path: string) (inputs: seq<string>) : string = check' true path inputs
