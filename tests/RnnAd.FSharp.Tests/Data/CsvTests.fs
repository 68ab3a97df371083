module RnnAd.FSharp.Tests.Data.CsvTests

open System.IO
open Expecto
open RnnAd.FSharp.Data
open RnnAd.FSharp.Tests

let private withCsv (text: string) (f: string -> unit) =
    TempFolder.run (fun dir ->
        let path = Path.Combine(dir, "data.csv")
        File.WriteAllText(path, text)
        f path)

[<Tests>]
let tests =
    testList "Data/csv" [
        test "labelled texts: quoted fields, class names in ordinal order, labels indexing them" {
            withCsv "id,review,sentiment\n1,\"good, really\",pos\n2,bad,neg\n3,\"said \"\"meh\"\"\",neutral\n4,fine,pos\n" (fun path ->
                let data = Csv.readLabelledText path "review" "sentiment"
                Expect.equal data.Texts [| "good, really"; "bad"; "said \"meh\""; "fine" |] "texts, quotes undone"
                Expect.equal data.ClassNames [| "neg"; "neutral"; "pos" |] "distinct labels, ordinal order"
                Expect.equal data.Labels [| 2; 0; 1; 2 |] "indices")
        }
        test "series: the named columns in the order asked, numbers in the invariant culture" {
            withCsv "t,temp,load\n0,1.5,-2e-3\n1,2.25,4\n" (fun path ->
                Expect.equal (Csv.readSeries path [| "load"; "temp" |]) [| [| -2e-3; 1.5 |]; [| 4.0; 2.25 |] |] "rows × columns")
        }
        test "errors name the file, the line and the column" {
            withCsv "text,label\nhello,a\n,b\n" (fun path ->
                TempFolder.throws<InvalidDataException, _> [ "data.csv"; "line 3"; "'text'" ] (fun () -> Csv.readLabelledText path "text" "label"))
            withCsv "text,label\nhello,a\n" (fun path ->
                TempFolder.throws<InvalidDataException, _> [ "no column 'class'"; "'text', 'label'" ] (fun () -> Csv.readLabelledText path "text" "class"))
            withCsv "x\n1\n2,5\n" (fun path ->
                TempFolder.throws<InvalidDataException, _> [ "not well-formed CSV"; "line 3" ] (fun () -> Csv.readSeries path [| "x" |]))
            withCsv "x,y\n1,2\n1,oops\n" (fun path ->
                TempFolder.throws<InvalidDataException, _> [ "line 3"; "column 'y'"; "'oops'" ] (fun () -> Csv.readSeries path [| "x"; "y" |]))
            withCsv "x\nNaN\n" (fun path ->
                TempFolder.throws<InvalidDataException, _> [ "not a finite number" ] (fun () -> Csv.readSeries path [| "x" |]))
            withCsv "x\n\"unclosed\n" (fun path ->
                TempFolder.throws<InvalidDataException, _> [ "not well-formed CSV" ] (fun () -> Csv.readSeries path [| "x" |]))
            withCsv "x\n" (fun path ->
                TempFolder.throws<InvalidDataException, _> [ "no row" ] (fun () -> Csv.readSeries path [| "x" |]))
        }
    ]
