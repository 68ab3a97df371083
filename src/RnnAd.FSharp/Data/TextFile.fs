namespace RnnAd.FSharp.Data

open System
open System.Globalization
open System.IO
open System.Text
open RnnAd.FSharp.Files

/// Reading training texts: strict UTF-8, with errors that name the file and what is wrong with it.
[<RequireQualifiedAccess>]
module TextFile =

    /// Throws on invalid bytes instead of silently writing U+FFFD into the training text.
    let private strictUtf8 = UTF8Encoding(false, true)

    /// The text of UTF-8 bytes (a leading byte-order mark is skipped); `name` is how errors call the file.
    let internal decode (name: string) (bytes: byte[]) : string =
        let start = if bytes.Length >= 3 && bytes.[0] = 0xEFuy && bytes.[1] = 0xBBuy && bytes.[2] = 0xBFuy then 3 else 0
        try strictUtf8.GetString(bytes, start, bytes.Length - start)
        with :? DecoderFallbackException as e ->
            let at = if e.Index >= 0 then sprintf " (invalid bytes near offset %d)" (start + e.Index) else ""
            raise (InvalidDataException(sprintf "file '%s' is not valid UTF-8%s" name at, e))

    /// The longest file read, in bytes: the longest .NET string, so that the text always fits in one.
    let maxBytes: int64 = 1_073_741_791L

    /// Raises naming the file by `name` unless `path` is a regular file: FileNotFoundException when nothing
    /// is there, IOException for a directory, a device, a FIFO or a socket, which are never opened (reading
    /// /dev/zero would not end, and a FIFO waits for a writer).
    let internal requireRegular (name: string) (path: string) : unit =
        match FileKind.ofPath path with
        | FileKind.Regular -> ()
        | FileKind.Missing -> raise (FileNotFoundException(sprintf "file '%s' does not exist" name, path))
        | kind -> raise (IOException(sprintf "file '%s' is %s, not a text file" name (FileKind.describe kind)))

    /// The bytes of a regular file of at most `maxBytes` bytes; raises as `requireRegular` does, and
    /// InvalidDataException naming the file and both sizes, before reading anything, when it is longer.
    let internal readBytes (name: string) (path: string) : byte[] =
        requireRegular name path
        let length = FileInfo(path).Length
        if length > maxBytes then
            raise (InvalidDataException(
                sprintf "file '%s' has %s bytes; a text file can have at most %s (the longest string)"
                    name (length.ToString("N0", CultureInfo.InvariantCulture)) (maxBytes.ToString("N0", CultureInfo.InvariantCulture))))
        File.ReadAllBytes path

    /// The text of a UTF-8 file that errors call `name` (its path within a dataset, say), empty or not;
    /// raises as `read` does for a file that is missing, not regular, too long or not UTF-8.
    let readNamed (name: string) (path: string) : string = decode name (readBytes name path)

    /// The text of a UTF-8 file (with or without byte-order mark). Raises FileNotFoundException when the file
    /// is missing, IOException when the path is a directory, a device, a FIFO or a socket, and
    /// InvalidDataException when it is longer than `maxBytes`, not UTF-8 or holds no text (empty or only white
    /// space), each naming the file.
    let read (path: string) : string =
        if String.IsNullOrEmpty path then invalidArg "path" "the path of the text file is null or empty"
        let text = readNamed path path
        if String.IsNullOrWhiteSpace text then
            raise (InvalidDataException(sprintf "file '%s' holds no text (%s)" path (if text.Length = 0 then "it is empty" else "only white space")))
        text

    /// The characters of a UTF-8 file (`Tokenize.characters`), checked to fill at least one window of
    /// `windowLength` plus the character after it; raises as `read` does, and InvalidDataException naming the
    /// file and both sizes when the text is too short.
    let readCharacters (path: string) (windowLength: int) : string[] =
        if windowLength <= 0 then invalidArg "windowLength" (sprintf "the window length must be positive, got %d" windowLength)
        let characters = Tokenize.characters (read path)
        // In int64, so that windowLength = Int32.MaxValue does not wrap around to a negative count.
        let needed = int64 windowLength + 1L
        if int64 characters.Length < needed then
            raise (InvalidDataException(
                sprintf "file '%s' holds %d characters, shorter than one window of %d plus the character after it (%d needed)"
                    path characters.Length windowLength needed))
        characters
