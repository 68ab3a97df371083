module RnnAd.Cli.Program

open System
open System.Threading

/// `rnnad`: Ctrl+C cancels a command between training batches instead of killing the process mid-write.
[<EntryPoint>]
let main argv =
    use cancel = new CancellationTokenSource()
    Console.CancelKeyPress.Add(fun e ->
        e.Cancel <- true
        cancel.Cancel())
    Cli.run (Terminal.system ()) cancel.Token argv
