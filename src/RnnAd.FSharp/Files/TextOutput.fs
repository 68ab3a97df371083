namespace RnnAd.FSharp.Files

open System
open System.IO
open System.Text

/// Text outputs (histories, reports) written as checkpoints are: atomically, never over anything but a
/// regular file.
[<RequireQualifiedAccess>]
module TextOutput =

    /// Writes `text` as UTF-8 (no byte-order mark) to `path` through a temporary file beside it, renamed over the
    /// target once flushed, so a reader never sees half a file and a failure leaves any earlier file intact.
    /// Raises DirectoryNotFoundException for a missing directory and IOException (naming the path) otherwise.
    let write (path: string) (text: string) : unit =
        if String.IsNullOrWhiteSpace path then invalidArg "path" "the output path is empty"
        if isNull text then nullArg "text"
        let cannot = sprintf "cannot write '%s'" path
        let target =
            try OutputFile.resolve path
            with :? IOException as e -> raise (IOException(sprintf "%s: %s" cannot e.Message, e))
        let directory = Path.GetDirectoryName target
        if not (Directory.Exists directory) then
            raise (DirectoryNotFoundException(sprintf "%s: the directory '%s' does not exist" cannot directory))
        OutputFile.requireRegularOrMissing cannot target
        OutputFile.removeOrphans target
        let temp, stream = OutputFile.createTemporary target
        try
            try
                let bytes = UTF8Encoding(false).GetBytes text
                stream.Write(bytes, 0, bytes.Length)
                stream.Flush true
                File.Move(temp, target, true)
            finally
                stream.Dispose()
        with e ->
            try File.Delete temp with _ -> ()
            match e with
            | :? IOException
            | :? UnauthorizedAccessException -> raise (IOException(sprintf "%s: %s" cannot e.Message, e))
            | _ -> reraise ()
