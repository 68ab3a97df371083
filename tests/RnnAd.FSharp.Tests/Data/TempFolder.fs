namespace RnnAd.FSharp.Tests.Data

open System
open System.IO
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
