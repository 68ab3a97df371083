module RnnAd.FSharp.Tests.Examples.FSharpCustomCellTests

open Expecto

[<Tests>]
let tests =
    testList "Examples/custom F# cell" [
        test "the minimal gated unit trains, passes its gradient check and survives a save, in quick mode" {
            let lines = ResizeArray<string>()
            let passed = FSharpCustomCell.run true lines.Add
            Expect.isTrue passed (String.concat "\n" lines)
            Expect.exists lines (fun l -> l.StartsWith "AD vs finite differences: PASS") "the check's line"
            Expect.exists lines (fun l -> l.EndsWith "same predictions true") "the reloaded model predicts the same"
        }
    ]
