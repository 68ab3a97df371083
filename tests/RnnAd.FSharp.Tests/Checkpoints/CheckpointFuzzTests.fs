module RnnAd.FSharp.Tests.Checkpoints.CheckpointFuzzTests

open System
open System.Collections.Generic
open System.IO
open System.Text
open System.Text.Json
open System.Text.Json.Nodes
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Tests.Cli
open RnnAd.FSharp.Tests

// A seeded fuzzer over checkpoints: a valid training checkpoint the library wrote, mutated (bit flips, byte
// overwrites, truncations, extensions, edits of the length field, the header's entries and the metadata's JSON),
// each mutant fed to Checkpoint.load, TrainingCheckpoint.load and `rnnad sample --model`. All that is asserted
// is the documented contract: a load succeeds or raises InvalidDataException, a training state loads with
// non-negative progress, `rnnad sample` exits 0 or 1 with one line on stderr, and no case allocates more than
// a generous bound on the test's own thread (per-thread, so other tests do not count). Failures are grouped by
// mutation class, so the message says which kinds of damage the loaders mishandle.
//
// Metadata numbers are tried in-process up to 65536: even a loader that loops once per unit stays within
// seconds and the bound there, and the bound then names it. Values no memory holds (2147483647 layers) would
// make such a loader allocate until the machine runs out, so they go to the rnnad program in a child process
// whose heap is capped (DOTNET_GCHeapHardLimit), where running out ends the process and is reported as exit 70.

/// The seed of every random choice here.
let private seed = 20261202

/// The most a case may allocate on the test's thread: a valid load of the tiny checkpoint allocates well under
/// 1 MB, so 16 MB is generous, while a loader that builds something per unit of a number read from the file
/// passes it long before it runs out of memory.
let private allocationBound = 16L <<< 20

/// The tiny model the fuzzed checkpoint holds: every kind of tensor a character model has.
let private spec: ModelSpec =
    { Cell = Cells.lstm; Input = InputEncoding.Embedding(3, 2); HiddenSize = 2; Layers = 1; Bidirectional = false
      Dropout = 0.0; Head = HeadKind.PerStep; HeadHidden = []; Outputs = 3; Loss = Loss.crossEntropy }

let private options =
    { TrainingOptions.Default with Schedule = Schedule.Constant 0.01; Epochs = 1; Seed = 1 }

/// One mutant: its class (what the failure report groups by), what exactly was done, and the file's bytes.
type private Case = { Class: string; Detail: string; Bytes: byte[] }

/// A safetensors file taken apart: the header's JSON and the data section.
let private split (bytes: byte[]) : JsonObject * byte[] =
    let length = int (BitConverter.ToUInt64(bytes, 0))
    (JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, length)) :?> JsonObject), bytes.[8 + length ..]

/// A safetensors file from a header's JSON text (padded with spaces to 8 bytes, as writers do) and data.
let private join (header: string) (data: byte[]) : byte[] =
    let json = Encoding.UTF8.GetBytes header
    let padded = Array.append json (Array.create ((8 - json.Length % 8) % 8) (byte ' '))
    Array.concat [ BitConverter.GetBytes(uint64 padded.Length); padded; data ]

/// The file with its header's JSON changed by `edit` (on a copy).
let private editHeader (bytes: byte[]) (edit: JsonObject -> unit) : byte[] =
    let header, data = split bytes
    edit header
    join (header.ToJsonString()) data

/// The file with the metadata entry `key` set to `value` (None removes it).
let private setMetadata (bytes: byte[]) (key: string) (value: string option) : byte[] =
    editHeader bytes (fun header ->
        let metadata = header.["__metadata__"] :?> JsonObject
        match value with
        | Some v -> metadata.[key] <- JsonValue.Create v
        | None -> metadata.Remove key |> ignore)

/// The file with the model description's JSON changed by `edit`.
let private editModel (bytes: byte[]) (edit: JsonObject -> unit) : byte[] =
    let header, _ = split bytes
    let model = JsonNode.Parse(string header.["__metadata__"].["rnnad.model"]) :?> JsonObject
    edit model
    setMetadata bytes "rnnad.model" (Some(model.ToJsonString()))

/// Sets a field at a dotted path ("input.vocabulary") to a JSON value given as text.
let private setField (path: string) (json: string) (o: JsonObject) =
    let parts = path.Split '.'
    let parent = parts.[.. parts.Length - 2] |> Array.fold (fun (o: JsonObject) p -> o.[p] :?> JsonObject) o
    parent.[parts.[parts.Length - 1]] <- JsonNode.Parse json

/// The mutants of `original`, every random choice drawn from `rng`.
let private mutants (rng: Random) (original: byte[]) : Case list =
    let headerEnd = 8 + int (BitConverter.ToUInt64(original, 0))
    let region (i: int) = if i < 8 then "the length field" elif i < headerEnd then "the header" else "the data"
    let header, _ = split original
    let tensorNames = [ for p in header do if p.Key <> "__metadata__" then p.Key ]
    let numberFields = [ "hidden_size"; "layers"; "outputs"; "input.vocabulary"; "input.dim"; "dropout" ]
    [ // Random damage anywhere.
      for _ in 1 .. 150 do
          let i, bit = rng.Next original.Length, rng.Next 8
          let bytes = Array.copy original
          bytes.[i] <- bytes.[i] ^^^ (1uy <<< bit)
          { Class = "bit flip in " + region i; Detail = sprintf "bit %d of byte %d" bit i; Bytes = bytes }
      let interesting = [| 0uy; 0xFFuy; byte '"'; byte '{'; byte '}'; byte '['; byte ']'; byte ','; byte ':'; byte '-'; byte '9'; byte '\\'; 0x80uy; 0xC3uy |]
      for _ in 1 .. 60 do
          let i, value = rng.Next original.Length, interesting.[rng.Next interesting.Length]
          let bytes = Array.copy original
          bytes.[i] <- value
          { Class = "byte overwritten in " + region i; Detail = sprintf "byte %d set to 0x%02X" i value; Bytes = bytes }
      for length in [ 0; 7; 8; 9; headerEnd - 1; headerEnd; headerEnd + 1; original.Length - 1 ] @ List.init 30 (fun _ -> rng.Next original.Length) do
          { Class = "truncation in " + region (max 0 (length - 1)); Detail = sprintf "cut to %d of %d bytes" length original.Length; Bytes = original.[.. length - 1] }
      for extra in [ 1; 7; 8; 64 ] do
          { Class = "extension"; Detail = sprintf "%d random bytes appended" extra; Bytes = Array.append original (Array.init extra (fun _ -> byte (rng.Next 256))) }
      // The length field.
      for value in [ 0UL; 1UL; uint64 (headerEnd - 9); uint64 (headerEnd - 7); uint64 (original.Length - 8); uint64 original.Length; 1UL <<< 32; 1UL <<< 63; UInt64.MaxValue ] do
          let bytes = Array.copy original
          BitConverter.GetBytes(value).CopyTo(bytes, 0)
          { Class = "length field"; Detail = sprintf "set to %d" value; Bytes = bytes }
      // Numbers in the model description, of every JSON kind.
      for field in numberFields do
          for value in [ "0"; "-1"; "1"; "3"; "7"; "255"; "65536"; "1.5"; "1e300"; "-0.0"; "\"2\""; "null"; "true"; "[]"; "{}" ] do
              { Class = sprintf "model description: %s" field; Detail = sprintf "%s = %s" field value; Bytes = editModel original (setField field value) }
      { Class = "model description: head_hidden"; Detail = "head_hidden = [65536, 0]"; Bytes = editModel original (setField "head_hidden" "[65536, 0]") }
      { Class = "model description: head_hidden"; Detail = "head_hidden = [[1]]"; Bytes = editModel original (setField "head_hidden" "[[1]]") }
      // The model description's words and shape.
      for field, value in
          [ "cell", "\"XYZ\""; "cell", "\"gru\""; "cell", "\"RNN_RELU\""; "cell", "1"; "input.encoding", "\"weird\""; "input.encoding", "\"one_hot\""
            "input.encoding", "\"features\""; "head", "\"middle\""; "head", "\"last_step\""; "bidirectional", "\"yes\""; "bidirectional", "true"
            "extra", "1" ] do
          { Class = sprintf "model description: %s" field; Detail = sprintf "%s = %s" field value; Bytes = editModel original (setField field value) }
      for field in [ "cell"; "input"; "hidden_size"; "layers"; "bidirectional"; "dropout"; "head"; "head_hidden"; "outputs" ] do
          { Class = "model description: a field removed"; Detail = field + " removed"; Bytes = editModel original (fun o -> o.Remove field |> ignore) }
      for text in [ ""; "{}"; "[]"; "null"; "not json"; String.replicate 10000 "[" + String.replicate 10000 "]"; "{\"cell\":\"LSTM\",\"cell\":\"GRU\"}" ] do
          { Class = "model description: replaced"; Detail = sprintf "replaced by %s" (if text.Length > 20 then text.Substring(0, 20) + "..." else text)
            Bytes = setMetadata original "rnnad.model" (Some text) }
      // The vocabulary.
      for text in
          [ "[\"a\",\"b\"]"; "[\"a\",\"a\",\"c\"]"; "[\"\",\"b\",\"c\"]"; "[null,\"b\",\"c\"]"; "[\"\\ud800\",\"b\",\"c\"]"; "[\"ab\",\"b\",\"c\"]"
            "[\"\\r\\n\",\"b\",\"c\"]"; "[1,2,3]"; "{}"; "not json"; "[" + String.Join(",", Array.create 10000 "\"a\"") + "]" ] do
          { Class = "vocabulary"; Detail = sprintf "rnnad.vocabulary = %s" (if text.Length > 30 then text.Substring(0, 30) + "..." else text)
            Bytes = setMetadata original "rnnad.vocabulary" (Some text) }
      // The other metadata keys.
      for key, value in
          [ "format", None; "format", Some "rnnad/2"; "rnnad.model", None; "rnnad.vocabulary", None; "rnnad.training", None
            "rnnad.training", Some "{}"; "rnnad.training", Some "not json"
            "rnnad.training", Some "{\"epoch\":2147483648,\"batch\":0,\"steps_done\":0,\"optimizer_step\":0}"
            "rnnad.training", Some "{\"epoch\":0,\"batch\":-1,\"steps_done\":0,\"optimizer_step\":0}"
            "rnnad.training", Some "{\"epoch\":0,\"batch\":0,\"steps_done\":1e300,\"optimizer_step\":0}"
            "rnnad.training", Some "{\"epoch\":0,\"batch\":0,\"steps_done\":0,\"optimizer_step\":9223372036854775807}" ] do
          { Class = "metadata key " + key; Detail = sprintf "%s = %A" key value; Bytes = setMetadata original key value }
      // The tensors' entries.
      for _ in 1 .. 40 do
          let name = tensorNames.[rng.Next tensorNames.Length]
          let field, value =
              [| "dtype", "\"F32\""; "dtype", "\"F16\""; "dtype", "\"I64\""; "shape", "[]"; "shape", "[1000000000]"; "shape", "[-1]"
                 "shape", "[2,2,2,2,2,2,2,2,2,2]"; "shape", "[\"2\"]"; "data_offsets", "[0,0]"; "data_offsets", "[0,4611686018427387904]"
                 "data_offsets", "[8,0]" |].[rng.Next 11]
          { Class = sprintf "tensor entry: %s" field; Detail = sprintf "%s of %s = %s" field name value
            Bytes = editHeader original (fun h -> (h.[name] :?> JsonObject).[field] <- JsonNode.Parse value) }
      for name in tensorNames |> List.truncate 3 do
          { Class = "tensor entry: removed"; Detail = name + " removed"; Bytes = editHeader original (fun h -> h.Remove name |> ignore) }
          { Class = "tensor entry: renamed"; Detail = name + " renamed to x"
            Bytes = editHeader original (fun h -> let v = h.[name] in h.Remove name |> ignore; h.["x"] <- v) } ]

/// What went wrong with one case, if anything.
let private check (folder: string) (case: Case) : string option =
    let path = Path.Combine(folder, "fuzzed.safetensors")
    File.WriteAllBytes(path, case.Bytes)
    let bounded (what: string) (f: unit -> string option) : string option =
        let before = GC.GetAllocatedBytesForCurrentThread()
        let problem =
            try f ()
            with
            | :? InvalidDataException -> None
            | e -> Some(sprintf "%s raised %s: %s" what (e.GetType().Name) e.Message)
        let allocated = GC.GetAllocatedBytesForCurrentThread() - before
        match problem with
        | Some _ -> problem
        | None when allocated > allocationBound -> Some(sprintf "%s allocated %d MB (bound %d MB)" what (allocated >>> 20) (allocationBound >>> 20))
        | None -> None
    let checks =
        [ fun () -> bounded "Checkpoint.load" (fun () -> Checkpoint.load path |> ignore; None)
          fun () ->
              bounded "TrainingCheckpoint.load" (fun () ->
                  let _, state = TrainingCheckpoint.load path
                  if state.Epoch < 0 || state.Batch < 0 || state.StepsDone < 0L || state.Optimizer.Step < 0L then
                      Some(sprintf "TrainingCheckpoint.load gave negative progress: epoch %d, batch %d, steps %d, optimizer step %d"
                               state.Epoch state.Batch state.StepsDone state.Optimizer.Step)
                  else None)
          fun () ->
              bounded "rnnad sample" (fun () ->
                  let run = CliSupport.rnnad [ "sample"; "--model"; path; "--length"; "5" ]
                  match run.Code, (CliSupport.lines run.Error).Length with
                  | 0, 0
                  | 1, 1 -> None
                  | code, lines -> Some(sprintf "rnnad sample exited %d with %d lines on stderr: %s" code lines (run.Error.Trim()))) ]
    checks |> List.tryPick (fun c -> c ())

/// The failures grouped by class: one paragraph per class with its count and first example.
let private report (failures: (Case * string) list) (total: int) : string =
    let classes =
        failures |> List.groupBy (fun (case, _) -> case.Class)
        |> List.map (fun (cls, cases) ->
            let examples = cases |> List.truncate 3 |> List.map (fun (case, problem) -> sprintf "    %s: %s" case.Detail problem)
            sprintf "  [%s] %d case(s), e.g.\n%s" cls cases.Length (String.Join("\n", examples)))
    sprintf "%d of %d mutated checkpoints were mishandled, by mutation class:\n%s" failures.Length total (String.Join("\n", classes))

/// The original checkpoint's bytes: a training checkpoint of the tiny model, written by the library.
let private original (folder: string) : byte[] =
    let path = Path.Combine(folder, "original.safetensors")
    TrainingCheckpoint.save path spec (Some [| "a"; "b"; "c" |]) (Training.start options (SequenceModel.init spec 1))
    File.ReadAllBytes path

[<Tests>]
let tests =
    testList "Checkpoints/checkpoint fuzzer" [
        test "mutated checkpoints load or raise InvalidDataException, and rnnad sample exits 0 or 1 with one line" {
            TempFolder.run (fun folder ->
                let bytes = original folder
                // The original itself passes every check, so what fails below is the mutation's doing.
                match check folder { Class = "original"; Detail = "unchanged"; Bytes = bytes } with
                | Some problem -> failtestf "the unmutated checkpoint fails: %s" problem
                | None -> ()
                let cases = mutants (Random seed) bytes
                let failures = [ for case in cases do
                                     match check folder case with
                                     | Some problem -> case, problem
                                     | None -> () ]
                if not failures.IsEmpty then failtest (report failures cases.Length))
        }
        test "metadata numbers no memory holds: rnnad sample in a process whose heap is capped exits 1 with one line" {
            TempFolder.run (fun folder ->
                let bytes = original folder
                let cases =
                    [ for field, value in
                          [ "layers", "2147483647"; "hidden_size", "2147483647"; "hidden_size", "1000000"; "outputs", "2147483647"
                            "input.vocabulary", "2147483647"; "input.dim", "2147483647"; "head_hidden", "[2147483647]" ] do
                          { Class = sprintf "model description: %s (huge)" field; Detail = sprintf "%s = %s" field value
                            Bytes = editModel bytes (setField field value) } ]
                let failures =
                    [ for case in cases do
                          let path = Path.Combine(folder, "huge.safetensors")
                          File.WriteAllBytes(path, case.Bytes)
                          let code, _, error =
                              CliSupport.program [ "sample"; "--model"; path; "--length"; "5" ] [ "DOTNET_GCHeapHardLimit", "0x10000000" ]
                          if code <> 1 || (CliSupport.lines error).Length <> 1 then
                              case, sprintf "rnnad sample (heap capped at 256 MB) exited %d: %s" code (error.Trim()) ]
                if not failures.IsEmpty then failtest (report failures cases.Length))
        }
    ]
