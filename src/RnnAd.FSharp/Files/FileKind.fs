namespace RnnAd.FSharp.Files

open System
open System.IO
open System.Runtime.InteropServices

/// What a path names on disk, symbolic links followed. Readers and writers act on regular files only: reading
/// a device or a FIFO may never end, and replacing one with a file breaks whatever it was for.
[<RequireQualifiedAccess>]
type FileKind =
    /// Nothing is there (or a symbolic link points at nothing).
    | Missing
    /// An ordinary file.
    | Regular
    /// A directory.
    | Directory
    /// A character device, such as /dev/null or a terminal.
    | CharacterDevice
    /// A block device, such as a disk.
    | BlockDevice
    /// A FIFO (named pipe).
    | Fifo
    /// A Unix domain socket.
    | Socket

/// Where a file lives: its device and inode. Two paths with the same identity are one file, whatever the
/// spelling, symbolic or hard links between them.
[<Struct>]
type internal FileIdentity = { Device: uint64; Inode: uint64 }

/// Telling what a path names. On Linux this asks the kernel (`statx`); elsewhere, or if that call is not
/// available, it falls back to .NET, which tells files from directories but not devices, FIFOs or sockets.
[<RequireQualifiedAccess>]
module FileKind =

    /// `statx(2)` from the C library. Its buffer has the same layout on every Linux architecture, unlike
    /// `struct stat`, which is why it is used here.
    module private Native =
        [<DllImport("libc", EntryPoint = "statx", SetLastError = true)>]
        extern int statx(int dirfd, [<MarshalAs(UnmanagedType.LPUTF8Str)>] string path, int flags, uint32 mask, byte[] buffer)

    let private atCurrentDirectory = -100
    let private basicStats = 0x7FFu
    let private noSuchFile, notADirectory = 2, 20

    /// Whether `statx` can be called here; false after the first call that finds it missing.
    let mutable private nativeAvailable = RuntimeInformation.IsOSPlatform OSPlatform.Linux

    /// The kind and identity of a path from `statx`, symbolic links followed; None when the call is not
    /// available or fails for a reason other than the path not existing.
    let private native (path: string) : (FileKind * FileIdentity option) option =
        if not nativeAvailable then None
        // No file name holds a NUL, and the C string would end there, naming another file.
        elif path.Contains '\000' then Some(FileKind.Missing, None)
        else
            // stx_mode (u16) at byte 28, stx_ino (u64) at 32, stx_dev_major and stx_dev_minor (u32) at 136 and 140.
            let buffer = Array.zeroCreate<byte> 256
            let result =
                try Some(Native.statx(atCurrentDirectory, path, 0, basicStats, buffer))
                with
                | :? DllNotFoundException
                | :? EntryPointNotFoundException ->
                    nativeAvailable <- false
                    None
            match result with
            | None -> None
            | Some 0 ->
                let mode = int (BitConverter.ToUInt16(buffer, 28))
                let kind =
                    match mode &&& 0xF000 with
                    | 0x8000 -> Some FileKind.Regular
                    | 0x4000 -> Some FileKind.Directory
                    | 0x2000 -> Some FileKind.CharacterDevice
                    | 0x6000 -> Some FileKind.BlockDevice
                    | 0x1000 -> Some FileKind.Fifo
                    | 0xC000 -> Some FileKind.Socket
                    | _ -> None
                let device = (uint64 (BitConverter.ToUInt32(buffer, 136)) <<< 32) ||| uint64 (BitConverter.ToUInt32(buffer, 140))
                kind |> Option.map (fun k -> k, Some { Device = device; Inode = BitConverter.ToUInt64(buffer, 32) })
            | Some _ ->
                let error = Marshal.GetLastPInvokeError()
                if error = noSuchFile || error = notADirectory then Some(FileKind.Missing, None) else None

    /// What .NET alone can tell: a directory, something else that exists (taken for a regular file), or nothing.
    let private managed (path: string) : FileKind =
        if Directory.Exists path then FileKind.Directory
        elif File.Exists path then FileKind.Regular
        else FileKind.Missing

    /// What `path` names, symbolic links followed.
    let ofPath (path: string) : FileKind =
        if String.IsNullOrEmpty path then invalidArg "path" "the path is null or empty"
        match native path with
        | Some (kind, _) -> kind
        | None -> managed path

    /// The device and inode of an existing path, symbolic links followed; None when it does not exist or the
    /// system cannot tell.
    let internal identity (path: string) : FileIdentity option =
        match native path with
        | Some (_, identity) -> identity
        | None -> None

    /// The kind as a phrase for messages: "a directory", "a FIFO (named pipe)", ...
    let describe (kind: FileKind) : string =
        match kind with
        | FileKind.Missing -> "missing"
        | FileKind.Regular -> "a regular file"
        | FileKind.Directory -> "a directory"
        | FileKind.CharacterDevice -> "a character device"
        | FileKind.BlockDevice -> "a block device"
        | FileKind.Fifo -> "a FIFO (named pipe)"
        | FileKind.Socket -> "a socket"
