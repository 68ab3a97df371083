module RnnAd.FSharp.Tests.Checkpoints.SafetensorsTests

open System
open System.IO
open System.Text
open Expecto
open RnnAd.FSharp
open RnnAd.FSharp.Storage
open RnnAd.FSharp.Tests

// Expected bytes in this file are built straight from the format with shifts and literal IEEE-754 bit
// patterns, never with the reader or writer under test. Comparisons are bit for bit (no tolerance): storing a
// float64 must not change it at all.

/// A fresh empty directory for one test, removed afterwards.
let withTempDir (f: string -> unit) : unit =
    let dir = Path.Combine(Path.GetTempPath(), "rnnad-tests", Guid.NewGuid().ToString "N")
    Directory.CreateDirectory dir |> ignore
    try f dir finally Directory.Delete(dir, true)

/// An unsigned 64-bit integer as 8 little-endian bytes.
let le64 (n: uint64) : byte[] = Array.init 8 (fun i -> byte (n >>> (8 * i)))

/// A safetensors file from its parts: the header length, the header text as given (no padding added), the data.
let fileBytes (header: string) (data: byte[]) : byte[] =
    let h = Encoding.UTF8.GetBytes header
    Array.concat [ le64 (uint64 h.Length); h; data ]

/// float64 values as little-endian IEEE-754 bytes.
let f64Bytes (values: float[]) : byte[] =
    values |> Array.collect (fun v -> le64 (uint64 (BitConverter.DoubleToInt64Bits v)))

/// The bit patterns of float64 values, so NaN payloads and -0.0 compare exactly.
let bits (values: float[]) : int64[] = values |> Array.map BitConverter.DoubleToInt64Bits

/// Raises unless `f` throws an exception of type 'e whose message contains every fragment.
let throwsOf<'e when 'e :> exn> (fragments: string list) (f: unit -> unit) : unit =
    let message =
        try
            f ()
            None
        with :? 'e as e -> Some e.Message
    match message with
    | None -> failtestf "expected a %s mentioning %A, nothing was thrown" typeof<'e>.Name fragments
    | Some m ->
        for fragment in fragments do
            Expect.stringContains m fragment "the error message names what is at fault"

/// Writes `bytes` as `name` in `dir` and expects reading it to fail naming the file and every fragment.
let rejects (dir: string) (name: string) (bytes: byte[]) (fragments: string list) : unit =
    let path = Path.Combine(dir, name)
    File.WriteAllBytes(path, bytes)
    throwsOf<InvalidDataException> (name :: fragments) (fun () -> Safetensors.read path |> ignore)

/// One F64 tensor entry of a header, as text.
let private entry (name: string) (shape: string) (b: int64) (e: int64) =
    sprintf "\"%s\":{\"dtype\":\"F64\",\"shape\":%s,\"data_offsets\":[%d,%d]}" name shape b e

let private roundTrip =
    testList "round trip" [
        test "values, shapes, names and metadata come back bit for bit, in order" {
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "weights.safetensors")
                let specials =
                    [| -0.0; 0.0; infinity; -infinity; nan
                       BitConverter.Int64BitsToDouble 0x7FF8000000000123L // quiet NaN with a payload
                       BitConverter.Int64BitsToDouble(int64 0xFFF0000000000001UL) // negative signalling NaN
                       Double.Epsilon // smallest subnormal
                       BitConverter.Int64BitsToDouble 0x000FFFFFFFFFFFFFL // largest subnormal
                       2.2250738585072014e-308 // smallest normal
                       Double.MaxValue; -Double.MaxValue; 1.0; -1.0 / 3.0 |]
                let tensors =
                    [| "가중치.weight", RawTensor.randomUniform 7 -10.0 10.0 [| 3; 4 |]
                       "θ/specials", RawTensor.ofArray [| specials.Length |] specials
                       "scalar", RawTensor.ofArray [||] [| Math.PI |]
                       "empty", RawTensor.ofArray [| 2; 0; 3 |] [||]
                       "emoji 😀 and \"quotes\" \\ and\nnewline", RawTensor.ofArray [| 1; 1; 1 |] [| -2.5 |] |]
                let metadata = [ "format", "pt"; "설명", "값 ✓"; "json", "{\"a\": [1, 2]}"; "empty", "" ]
                Safetensors.write path metadata tensors
                let file = Safetensors.read path
                Expect.equal file.Metadata (Map.ofList metadata) "metadata"
                Expect.equal (Array.map fst file.Tensors) (Array.map fst tensors) "names, in the order written"
                for (name, expected), (_, actual) in Array.zip tensors file.Tensors do
                    Expect.equal actual.Shape expected.Shape (sprintf "shape of %s" name)
                    Expect.equal (bits (actual.ToArray())) (bits (expected.ToArray())) (sprintf "bits of %s" name))
        }
        test "a file with no tensors and no metadata is the empty object padded to 8 bytes" {
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "empty.safetensors")
                Safetensors.write path [] [||]
                Expect.equal (File.ReadAllBytes path) (fileBytes "{}      " [||]) "8-byte length 8, then {} and six spaces"
                let file = Safetensors.read path
                Expect.isEmpty file.Tensors "no tensors"
                Expect.isEmpty file.Metadata "no metadata")
        }
    ]

let private format =
    testList "format" [
        test "compact JSON header, __metadata__ first, tensors in the given order, space padding, little-endian data" {
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "layout.safetensors")
                Safetensors.write path [ "k", "v" ] [| "b", RawTensor.ofArray [| 2 |] [| 1.0; -2.0 |]; "a", RawTensor.scalar 0.5 |]
                let json = "{\"__metadata__\":{\"k\":\"v\"}," + entry "b" "[2]" 0L 16L + "," + entry "a" "[]" 16L 24L + "}"
                let padded = json + String(' ', (8 - json.Length % 8) % 8)
                // 1.0 = 0x3FF0000000000000, -2.0 = 0xC000000000000000, 0.5 = 0x3FE0000000000000.
                let data =
                    [| 0uy; 0uy; 0uy; 0uy; 0uy; 0uy; 0xF0uy; 0x3Fuy
                       0uy; 0uy; 0uy; 0uy; 0uy; 0uy; 0uy; 0xC0uy
                       0uy; 0uy; 0uy; 0uy; 0uy; 0uy; 0xE0uy; 0x3Fuy |]
                Expect.equal (padded.Length % 8) 0 "the header is a multiple of 8 bytes"
                Expect.equal (File.ReadAllBytes path) (fileBytes padded data) "the whole file, byte for byte")
        }
        test "non-ASCII names are stored as UTF-8" {
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "utf8.safetensors")
                Safetensors.write path [] [| "é", RawTensor.scalar 1.0 |]
                let bytes = File.ReadAllBytes path
                // é is U+00E9, 0xC3 0xA9 in UTF-8; the header starts at byte 8 with {"é"
                Expect.equal bytes.[8..12] [| byte '{'; byte '"'; 0xC3uy; 0xA9uy; byte '"' |] "raw UTF-8, not a \\u escape")
        }
    ]

let private rejectsBadFiles =
    testList "rejects" [
        test "truncated files, cut inside the length, the header or the data" {
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "whole.safetensors")
                Safetensors.write path [ "k", "v" ] [| "a", RawTensor.ofArray [| 2 |] [| 1.0; 2.0 |]; "b", RawTensor.ofArray [| 3 |] [| 3.0; 4.0; 5.0 |] |]
                let whole = File.ReadAllBytes path
                let n = int (BitConverter.ToUInt64(whole, 0))
                let cut (at: int) fragments = rejects dir (sprintf "cut-%d.safetensors" at) whole.[.. at - 1] fragments
                cut 0 [ "has 0 bytes"; "expected at least 8" ]
                cut 5 [ "has 5 bytes"; "expected at least 8" ]
                cut 8 [ sprintf "header length field says %d bytes" n; "only 0 bytes follow" ]
                cut (8 + 10) [ sprintf "says %d bytes" n; "only 10 bytes follow" ]
                cut (8 + n) [ "tensor 'a'"; "[0, 16)"; "data section, which has 0 bytes" ]
                cut (8 + n + 4) [ "tensor 'a'"; "[0, 16)"; "which has 4 bytes" ]
                cut (8 + n + 16) [ "tensor 'b'"; "[16, 40)"; "which has 16 bytes" ]
                cut (whole.Length - 1) [ "tensor 'b'"; "[16, 40)"; "which has 39 bytes" ]
                rejects dir "extra-byte.safetensors" (Array.append whole [| 0uy |]) [ "data section has 41 bytes"; "only the first 40"; "trailing" ])
        }
        test "bad JSON and headers that are not an object of entries" {
            withTempDir (fun dir ->
                let r name header data fragments = rejects dir name (fileBytes header data) fragments
                r "unclosed.safetensors" "{\"a\": {\"dtype\": \"F64\"," [||] [ "not well-formed JSON" ]
                r "garbage-after.safetensors" ("{" + entry "a" "[1]" 0L 8L + "} x") (f64Bytes [| 1.0 |]) [ "not well-formed JSON" ]
                r "nul-padding.safetensors" ("{" + entry "a" "[1]" 0L 8L + "}\000\000") (f64Bytes [| 1.0 |]) [ "not well-formed JSON" ]
                r "array.safetensors" "[1, 2]" [||] [ "must begin with '{'"; "0x5B" ]
                r "leading-space.safetensors" " {}" [||] [ "must begin with '{'"; "0x20" ]
                r "empty-header.safetensors" "" [||] [ "header is empty" ]
                r "number-entry.safetensors" "{\"a\": 1}" [||] [ "tensor 'a'"; "expected an object with dtype, shape and data_offsets"; "found 1" ]
                r "duplicate.safetensors" ("{" + entry "a" "[1]" 0L 8L + "," + entry "a" "[1]" 8L 16L + "}") (f64Bytes [| 1.0; 2.0 |]) [ "names 'a' twice" ]
                r "missing-dtype.safetensors" "{\"a\":{\"shape\":[1],\"data_offsets\":[0,8]}}" (f64Bytes [| 1.0 |]) [ "tensor 'a'"; "field 'dtype' is missing" ]
                r "metadata-array.safetensors" "{\"__metadata__\":[1]}" [||] [ "__metadata__"; "expected an object of string values"; "[1]" ]
                r "metadata-number.safetensors" "{\"__metadata__\":{\"k\":1}}" [||] [ "__metadata__ key 'k'"; "expected a string value, found 1" ]
                r "lone-surrogate.safetensors" ("{" + entry "\\ud800" "[1]" 0L 8L + "}") (f64Bytes [| 1.0 |]) [ "not valid Unicode" ]
                let badUtf8 = Array.concat [ le64 4UL; [| byte '{'; byte '"'; 0xFFuy; byte '"' |] ]
                rejects dir "bad-utf8.safetensors" badUtf8 [ "not valid UTF-8" ])
        }
        test "a header length beyond the file" {
            withTempDir (fun dir ->
                rejects dir "long.safetensors" (Array.append (le64 1000UL) (Encoding.UTF8.GetBytes "{}")) [ "says 1000 bytes"; "only 2 bytes follow" ])
        }
        test "hostile header lengths fail fast without allocating them" {
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "hostile.safetensors")
                File.WriteAllBytes(path, Array.append (le64 (1UL <<< 62)) (Encoding.UTF8.GetBytes "{}"))
                throwsOf<InvalidDataException> [] (fun () -> Safetensors.read path |> ignore) // warm up the code paths (JIT)
                let before = GC.GetAllocatedBytesForCurrentThread()
                throwsOf<InvalidDataException> [ "hostile.safetensors"; "says 4611686018427387904 bytes"; "only 2 bytes follow" ] (fun () -> Safetensors.read path |> ignore)
                let allocated = GC.GetAllocatedBytesForCurrentThread() - before
                // A file stream buffer (64 KiB), the exception and its message: far below 1 MiB, where
                // allocating even a fraction of 2^62 bytes would fail or show.
                Expect.isLessThan allocated (1L <<< 20) "bytes allocated while rejecting a 2^62-byte header"
                rejects dir "max.safetensors" (Array.append (le64 UInt64.MaxValue) (Encoding.UTF8.GetBytes "{}")) [ "says 18446744073709551615 bytes" ])
        }
        test "a header longer than the 100 MB limit, even inside a large enough file" {
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "huge-header.safetensors")
                do
                    // A sparse file: its length is set, its blocks are never written.
                    use s = new FileStream(path, FileMode.CreateNew)
                    s.Write(le64 100_000_001UL, 0, 8)
                    s.SetLength(100_000_100L)
                let before = GC.GetAllocatedBytesForCurrentThread()
                throwsOf<InvalidDataException> [ "huge-header.safetensors"; "header length 100000001 exceeds the limit of 100000000" ] (fun () -> Safetensors.read path |> ignore)
                // As above: rejected before a buffer for the header is allocated.
                Expect.isLessThan (GC.GetAllocatedBytesForCurrentThread() - before) (1L <<< 20) "bytes allocated")
        }
        test "negative, reversed, out-of-range, overlapping and non-integer offsets, holes" {
            withTempDir (fun dir ->
                let r name header data fragments = rejects dir name (fileBytes header data) fragments
                let one = f64Bytes [| 1.0 |]
                r "negative.safetensors" "{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[-8,0]}}" one [ "tensor 'a'"; "data_offsets begin"; "found the negative -8" ]
                r "reversed.safetensors" ("{" + entry "a" "[0]" 8L 0L + "}") one [ "tensor 'a'"; "[8, 0) are reversed" ]
                r "out-of-range.safetensors" ("{" + entry "a" "[100]" 0L 800L + "}") one [ "tensor 'a'"; "[0, 800) end past the data section"; "has 8 bytes" ]
                r "overlap.safetensors" ("{" + entry "a" "[2]" 0L 16L + "," + entry "b" "[2]" 8L 24L + "}") (f64Bytes [| 1.; 2.; 3. |])
                    [ "tensor 'b'"; "[8, 24) overlap tensor 'a' at [0, 16)" ]
                r "inside.safetensors" ("{" + entry "a" "[2]" 0L 16L + "," + entry "e" "[0]" 8L 8L + "}") (f64Bytes [| 1.; 2. |])
                    [ "tensor 'e'"; "[8, 8) overlap tensor 'a'" ]
                r "hole.safetensors" ("{" + entry "a" "[1]" 0L 8L + "," + entry "b" "[1]" 16L 24L + "}") (f64Bytes [| 1.; 2.; 3. |])
                    [ "bytes [8, 16)"; "belong to no tensor"; "'b'" ]
                r "fraction.safetensors" "{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8.0]}}" one [ "tensor 'a'"; "data_offsets end"; "8.0" ]
                r "string.safetensors" "{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,\"8\"]}}" one [ "tensor 'a'"; "found \"8\"" ]
                r "huge-offset.safetensors" "{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,18446744073709551616]}}" one
                    [ "tensor 'a'"; "not an integer below 2^63" ]
                r "three.safetensors" "{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8,16]}}" one [ "tensor 'a'"; "expected an array [begin, end]" ])
        }
        test "dtype and shape inconsistent with the byte count, bad shapes" {
            withTempDir (fun dir ->
                let r name header data fragments = rejects dir name (fileBytes header data) fragments
                r "short.safetensors" ("{" + entry "a" "[3]" 0L 16L + "}") (f64Bytes [| 1.; 2. |])
                    [ "tensor 'a'"; "[0, 16) hold 16 bytes"; "F64 of shape (3,) needs 24 bytes" ]
                r "f32-long.safetensors" "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,24]}}" (Array.zeroCreate 24)
                    [ "tensor 'w'"; "hold 24 bytes"; "F32 of shape (2, 2) needs 16 bytes" ]
                r "overflow.safetensors" ("{" + entry "a" "[2147483647,2147483647,2147483647,2147483647]" 0L 8L + "}") (f64Bytes [| 1. |])
                    [ "tensor 'a'"; "[0, 8) hold 8 bytes"; "F64 of shape (2147483647, 2147483647, 2147483647, 2147483647) needs more than 2^63" ]
                r "big-dim.safetensors" ("{" + entry "a" "[4294967296]" 0L 8L + "}") (f64Bytes [| 1. |]) [ "tensor 'a'"; "shape entry 0"; "at most 2147483647" ]
                r "negative-dim.safetensors" ("{" + entry "a" "[2,-1]" 0L 8L + "}") (f64Bytes [| 1. |]) [ "tensor 'a'"; "shape entry 1"; "negative -1" ]
                r "fraction-dim.safetensors" ("{" + entry "a" "[2.5]" 0L 8L + "}") (f64Bytes [| 1. |]) [ "tensor 'a'"; "shape entry 0"; "2.5" ]
                r "string-dim.safetensors" ("{" + entry "a" "[\"1\"]" 0L 8L + "}") (f64Bytes [| 1. |]) [ "tensor 'a'"; "shape entry 0"; "\"1\"" ]
                r "shape-object.safetensors" ("{" + entry "a" "{}" 0L 8L + "}") (f64Bytes [| 1. |]) [ "tensor 'a'"; "shape: expected an array of integers" ])
        }
        test "unsupported and unknown dtypes" {
            withTempDir (fun dir ->
                for dtype in [ "U8"; "BOOL"; "F8_E4M3"; "Q7" ] do
                    let header = sprintf "{\"a\":{\"dtype\":\"%s\",\"shape\":[1],\"data_offsets\":[0,8]}}" dtype
                    rejects dir (dtype + ".safetensors") (fileBytes header (Array.zeroCreate 8))
                        [ "tensor 'a'"; sprintf "dtype '%s' is not supported; expected F64, F32, F16, BF16 or I64" dtype ])
        }
        test "F16, BF16 and I64 widen to float64 exactly; integers beyond 2^53 are refused" {
            withTempDir (fun dir ->
                // F16 0x3C00 = 1, 0xC000 = −2, 0x3555 = 1365/4096 = 0.333251953125 (10-bit mantissa), 0x0001 = 2^−24.
                // BF16 0x3F80 = 1, 0x4049 = the F32 0x40490000 = 3.140625, 0xFF80 = −∞.
                // I64 42, −7, 2^53.
                let le16 (v: int) = [| byte (v &&& 0xFF); byte (v >>> 8) |]
                let le64 (v: int64) = BitConverter.GetBytes v
                let header =
                    "{\"f16\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]},"
                    + "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[8,14]},"
                    + "\"i64\":{\"dtype\":\"I64\",\"shape\":[3],\"data_offsets\":[14,38]}}"
                let data =
                    Array.concat [ le16 0x3C00; le16 0xC000; le16 0x3555; le16 0x0001
                                   le16 0x3F80; le16 0x4049; le16 0xFF80
                                   le64 42L; le64 -7L; le64 (1L <<< 53) ]
                let path = Path.Combine(dir, "narrow.safetensors")
                File.WriteAllBytes(path, fileBytes header data)
                let file = Safetensors.read path
                let values name = file.Tensors |> Array.find (fst >> (=) name) |> snd |> fun t -> t.ToArray()
                Expect.equal (values "f16") [| 1.0; -2.0; 0.333251953125; Math.Pow(2.0, -24.0) |] "F16"
                Expect.equal (values "bf16") [| 1.0; 3.140625; Double.NegativeInfinity |] "BF16"
                Expect.equal (values "i64") [| 42.0; -7.0; 9007199254740992.0 |] "I64"
                Expect.equal file.Dtypes (Map [ "bf16", "BF16"; "f16", "F16"; "i64", "I64" ]) "each tensor's dtype"
                let beyond = "{\"n\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}"
                rejects dir "beyond.safetensors" (fileBytes beyond (le64 ((1L <<< 53) + 1L))) [ "tensor 'n'"; "beyond ±2^53" ])
        }
    ]

let private otherTools =
    testList "other tools" [
        test "a file built byte by byte, F32 and F64, key order unlike data order, unpadded header, loads" {
            withTempDir (fun dir ->
                // Keys in the header: w, __metadata__, b, s, e; data order: b, s, w, e. Pretty-printed and not
                // padded, as some writers do. F32 values are exact binary fractions, so widening is exact.
                let header =
                    """{
  "w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [28, 44]},
  "__metadata__": {"format": "pt"},
  "b": {"dtype": "F64", "shape": [3], "data_offsets": [0, 24]},
  "s": {"dtype": "F32", "shape": [], "data_offsets": [24, 28]},
  "e": {"dtype": "F32", "shape": [0, 3], "data_offsets": [44, 44]}
}"""
                let data =
                    [| // b: 1.0 = 0x3FF0000000000000, -0.5 = 0xBFE0000000000000, 2.0 = 0x4000000000000000
                       0uy; 0uy; 0uy; 0uy; 0uy; 0uy; 0xF0uy; 0x3Fuy
                       0uy; 0uy; 0uy; 0uy; 0uy; 0uy; 0xE0uy; 0xBFuy
                       0uy; 0uy; 0uy; 0uy; 0uy; 0uy; 0uy; 0x40uy
                       // s: -3.5f = 0xC0600000
                       0uy; 0uy; 0x60uy; 0xC0uy
                       // w: 1.5f = 0x3FC00000, -2.0f = 0xC0000000, 0.25f = 0x3E800000, 3.0f = 0x40400000
                       0uy; 0uy; 0xC0uy; 0x3Fuy
                       0uy; 0uy; 0uy; 0xC0uy
                       0uy; 0uy; 0x80uy; 0x3Euy
                       0uy; 0uy; 0x40uy; 0x40uy |]
                let path = Path.Combine(dir, "other.safetensors")
                File.WriteAllBytes(path, fileBytes header data)
                let file = Safetensors.read path
                Expect.equal file.Metadata (Map.ofList [ "format", "pt" ]) "metadata"
                Expect.equal (Array.map fst file.Tensors) [| "b"; "s"; "w"; "e" |] "tensors in data order"
                let expected =
                    [| [| 3 |], [| 1.0; -0.5; 2.0 |]
                       [||], [| -3.5 |]
                       [| 2; 2 |], [| 1.5; -2.0; 0.25; 3.0 |]
                       [| 0; 3 |], [||] |]
                for (name, raw), (shape, values) in Array.zip file.Tensors expected do
                    Expect.equal raw.Shape shape (sprintf "shape of %s" name)
                    Expect.equal (bits (raw.ToArray())) (bits values) (sprintf "values of %s" name))
        }
        test "unknown extra fields in an entry are ignored, as the reference implementation does" {
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "extra-field.safetensors")
                let header = "{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8],\"note\":{\"x\":[1]}}}"
                File.WriteAllBytes(path, fileBytes header (f64Bytes [| 0.125 |]))
                let file = Safetensors.read path
                Expect.equal (bits ((snd file.Tensors.[0]).ToArray())) (bits [| 0.125 |]) "value")
        }
    ]

/// Files in a directory other than `keep`: stray temporary files would show here.
let private strays (dir: string) (keep: string list) =
    Directory.GetFileSystemEntries dir |> Array.map Path.GetFileName |> Array.filter (fun f -> not (List.contains f keep))

let private atomicWrite =
    testList "atomic write" [
        test "writing into a missing directory fails clearly and creates nothing" {
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "missing", "sub", "w.safetensors")
                throwsOf<DirectoryNotFoundException> [ "w.safetensors"; Path.Combine(dir, "missing", "sub"); "does not exist" ]
                    (fun () -> Safetensors.write path [] [| "a", RawTensor.scalar 1.0 |])
                Expect.isFalse (Directory.Exists(Path.Combine(dir, "missing"))) "no directory created"
                Expect.isEmpty (strays dir []) "no temporary file left")
        }
        test "overwriting replaces the file completely" {
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "w.safetensors")
                let big = Array.init 5 (fun i -> sprintf "big%d" i, RawTensor.randomUniform i -1.0 1.0 [| 100; 10 |])
                Safetensors.write path [ "run", "first" ] big
                let small = [| "s", RawTensor.ofArray [| 2 |] [| 1.0; -2.0 |] |]
                Safetensors.write path [] small
                let json = "{" + entry "s" "[2]" 0L 16L + "}"
                let padded = json + String(' ', (8 - json.Length % 8) % 8)
                Expect.equal (File.ReadAllBytes path) (fileBytes padded (f64Bytes [| 1.0; -2.0 |])) "only the new contents"
                Expect.isEmpty (strays dir [ "w.safetensors" ]) "no temporary file left")
        }
        test "a rejected write (duplicate name, reserved name, duplicate metadata key) leaves the old file byte-identical" {
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "w.safetensors")
                Safetensors.write path [ "k", "v" ] [| "a", RawTensor.ofArray [| 3 |] [| 1.; 2.; 3. |] |]
                let before = File.ReadAllBytes path
                throwsOf<ArgumentException> [ "w.safetensors"; "the name 'a' appears twice (tensors 0 and 1)" ]
                    (fun () -> Safetensors.write path [] [| "a", RawTensor.scalar 1.0; "a", RawTensor.scalar 2.0 |])
                throwsOf<ArgumentException> [ "w.safetensors"; "'__metadata__'"; "reserves" ]
                    (fun () -> Safetensors.write path [] [| "__metadata__", RawTensor.scalar 1.0 |])
                throwsOf<ArgumentException> [ "w.safetensors"; "metadata key 'k' appears twice" ]
                    (fun () -> Safetensors.write path [ "k", "1"; "k", "2" ] [||])
                throwsOf<ArgumentException> [ "w.safetensors"; "tensor 0 has an empty name" ]
                    (fun () -> Safetensors.write path [] [| "", RawTensor.scalar 1.0 |])
                throwsOf<ArgumentException> [ "w.safetensors"; "tensor 0"; "lone surrogate" ]
                    (fun () -> Safetensors.write path [] [| "a" + string (char 0xD800), RawTensor.scalar 1.0 |])
                Expect.equal (File.ReadAllBytes path) before "the old file is untouched"
                Expect.isEmpty (strays dir [ "w.safetensors" ]) "no temporary file left")
        }
        test "a write that fails after the data are written leaves the old file byte-identical and no temporary file" {
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "w.safetensors")
                Safetensors.write path [] [| "old", RawTensor.ofArray [| 2 |] [| 5.0; 6.0 |] |]
                let before = File.ReadAllBytes path
                let tensors = [| "new", RawTensor.randomUniform 3 -1.0 1.0 [| 50 |] |]
                let reference = Path.Combine(dir, "reference.safetensors")
                Safetensors.write reference [] tensors
                let sawComplete = ref false
                let failAtCommit (temp: string) =
                    // The temporary file is complete at this point (its length is the whole file's); only the rename
                    // is left. It is still held by the writer, so it is measured, not opened.
                    sawComplete.Value <- Path.GetDirectoryName temp = dir && FileInfo(temp).Length = FileInfo(reference).Length
                    raise (InvalidOperationException "disk pulled out")
                throwsOf<InvalidOperationException> [ "disk pulled out" ]
                    (fun () -> Safetensors.writeWith failAtCommit path [] tensors)
                Expect.isTrue sawComplete.Value "the new data reached a complete temporary file beside the target"
                Expect.equal (File.ReadAllBytes path) before "the old file is untouched"
                Expect.isEmpty (strays dir [ "w.safetensors"; "reference.safetensors" ]) "the temporary file is removed")
        }
        test "a target that is a directory is refused and left alone" {
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "taken")
                Directory.CreateDirectory path |> ignore
                throwsOf<IOException> [ "taken"; "is a directory" ] (fun () -> Safetensors.write path [] [| "a", RawTensor.scalar 1.0 |])
                Expect.isTrue (Directory.Exists path) "the directory is still there"
                Expect.isEmpty (strays dir [ "taken" ]) "no temporary file left")
        }
        test "the temporary file is held locked from its creation until it has replaced the target" {
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "w.safetensors")
                let mutable held = false
                let probe (temp: string) =
                    // Another writer's cleanup opens it exactly so; a live writer's lock must make that fail.
                    held <-
                        try
                            use _ = new FileStream(temp, FileMode.Open, FileAccess.ReadWrite, FileShare.None)
                            false
                        with :? IOException -> true
                Safetensors.writeWith probe path [] [| "a", RawTensor.scalar 1.0 |]
                Expect.isTrue held "the temporary file could not be taken while the writer held it"
                Expect.equal (strays dir [ "w.safetensors" ]) [||] "only the target is left")
        }
        test "a write removes the temporary files of its target that no live process holds, and nothing else" {
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "w.safetensors")
                let name (guid: string) = sprintf ".w.safetensors.%s.tmp" guid
                let write (file: string) = File.WriteAllBytes(Path.Combine(dir, file), Array.create 100 7uy)
                // What `kill -9` during a save leaves: a temporary file that no process holds.
                let orphan = name "0123456789abcdef0123456789abcdef"
                write orphan
                // A writer still at work (another process or thread) holds its temporary file.
                let live = name "fedcba9876543210fedcba9876543210"
                write live
                use _ = new FileStream(Path.Combine(dir, live), FileMode.Open, FileAccess.Write, FileShare.None)
                // Names that only look alike belong to someone else.
                let others =
                    [ name "0123456789ABCDEF0123456789ABCDEF"; name "0123"; ".w.safetensors.x.0123456789abcdef0123456789abcdef.tmp"
                      ".v.safetensors.0123456789abcdef0123456789abcdef.tmp"; "w.safetensors.0123456789abcdef0123456789abcdef.tmp" ]
                for other in others do
                    write other
                Safetensors.write path [] [| "a", RawTensor.scalar 1.0 |]
                Expect.isFalse (File.Exists(Path.Combine(dir, orphan))) "the orphan is removed"
                Expect.isTrue (File.Exists(Path.Combine(dir, live))) "the held one survives"
                Expect.equal (strays dir [ "w.safetensors"; live ] |> Array.sort) (List.sort others |> Array.ofList) "the look-alikes survive")
        }
        test "a target that is a FIFO or a socket is refused and left as it was" {
            withTempDir (fun dir ->
                let fifo = Path.Combine(dir, "pipe")
                TempFolder.fifo fifo
                throwsOf<IOException> [ "pipe"; "is a FIFO"; "regular file" ] (fun () -> Safetensors.write fifo [] [| "a", RawTensor.scalar 1.0 |])
                Expect.equal (TempFolder.fileType fifo) "fifo" "still a FIFO"
                let socket = Path.Combine(dir, "socket")
                use _ = TempFolder.socket socket
                throwsOf<IOException> [ "socket"; "is a socket" ] (fun () -> Safetensors.write socket [] [| "a", RawTensor.scalar 1.0 |])
                Expect.equal (TempFolder.fileType socket) "socket" "still a socket"
                Expect.isEmpty (strays dir [ "pipe"; "socket" ]) "no temporary file left")
        }
        test "writing through a symbolic link replaces the file it points to and keeps the link" {
            withTempDir (fun dir ->
                let target = Path.Combine(dir, "real.safetensors")
                Safetensors.write target [ "run", "old" ] [||]
                let link = Path.Combine(dir, "link.safetensors")
                File.CreateSymbolicLink(link, "real.safetensors") |> ignore
                Safetensors.write link [ "run", "new" ] [||]
                Expect.equal (TempFolder.fileType link) "symbolic link" "the link is still a link"
                Expect.equal (Safetensors.read target).Metadata (Map.ofList [ "run", "new" ]) "the file it points to holds the new contents"
                // A link to nothing yet is written where it points, as a shell's > would.
                let dangling = Path.Combine(dir, "dangling.safetensors")
                File.CreateSymbolicLink(dangling, "later.safetensors") |> ignore
                Safetensors.write dangling [] [||]
                Expect.equal (TempFolder.fileType dangling) "symbolic link" "still a link"
                Expect.equal (TempFolder.fileType (Path.Combine(dir, "later.safetensors"))) "regular file" "its target was written"
                Expect.isEmpty (strays dir [ "real.safetensors"; "link.safetensors"; "dangling.safetensors"; "later.safetensors" ]) "no temporary file left")
        }
    ]

let private reading =
    testList "reading" [
        test "a directory, a device or a FIFO is named for what it is and never opened" {
            withTempDir (fun dir ->
                throwsOf<IOException> [ dir; "is a directory" ] (fun () -> Safetensors.read dir |> ignore)
                throwsOf<IOException> [ "/dev/null"; "character device" ] (fun () -> Safetensors.read "/dev/null" |> ignore)
                // Opening a FIFO would wait for a writer forever.
                let fifo = Path.Combine(dir, "pipe")
                TempFolder.fifo fifo
                throwsOf<IOException> [ "pipe"; "FIFO" ] (fun () -> Safetensors.read fifo |> ignore)
                throwsOf<FileNotFoundException> [ "absent.safetensors"; "does not exist" ] (fun () -> Safetensors.read (Path.Combine(dir, "absent.safetensors")) |> ignore))
        }
    ]

[<Tests>]
let tests = testList "Checkpoints/safetensors" [ roundTrip; format; rejectsBadFiles; otherTools; atomicWrite; reading ]
