namespace RnnAd.Cli

open System.IO
open System.Reflection

/// The text `rnnad train` learns when given none: the opening paragraphs of Lewis Carroll's "Alice's Adventures
/// in Wonderland" (1865, public domain), about 2.6 KB of ASCII, embedded so the command needs no download.
/// Short enough that a small LSTM learns it in seconds, long enough that what it learns is visibly English.
[<RequireQualifiedAccess>]
module DefaultText =

    /// How reports name the text.
    let description = "the opening of Alice's Adventures in Wonderland (Lewis Carroll, 1865; embedded)"

    let private resource = "RnnAd.Cli.alice.txt"

    /// The embedded text.
    let read () : string =
        use stream = Assembly.GetExecutingAssembly().GetManifestResourceStream resource
        if isNull stream then invalidOp (sprintf "the embedded resource '%s' is missing from this build of rnnad" resource)
        use reader = new StreamReader(stream)
        reader.ReadToEnd()
