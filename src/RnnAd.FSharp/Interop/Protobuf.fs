namespace RnnAd.FSharp.Interop

open System
open System.IO
open System.Text

/// Protocol Buffers' binary wire format, as much of it as writing ONNX's messages needs. Every field is a key,
/// the varint (field number << 3) | wire type, then its value: wire type 0 a varint (integers, enums), wire
/// type 2 a varint length and that many bytes (strings, bytes, nested messages). onnx.proto is a proto2
/// file, so repeated integers are written one key per value (unpacked), as its own serializer writes them.
[<Sealed>]
type internal ProtoWriter() =
    let stream = new MemoryStream()

    /// Base-128 varint: seven bits a byte, least significant first, the high bit set on all bytes but the last.
    let varint (value: uint64) =
        let mutable v = value
        while v >= 0x80UL do
            stream.WriteByte(byte (v &&& 0x7FUL) ||| 0x80uy)
            v <- v >>> 7
        stream.WriteByte(byte v)

    let key (field: int) (wireType: int) = varint (uint64 ((field <<< 3) ||| wireType))

    /// An int64, int32 or enum field. A negative value takes ten bytes (its two's complement as uint64), as
    /// protobuf encodes negative int32 and int64 alike.
    member _.Int64(field: int, value: int64) : unit =
        key field 0
        varint (uint64 value)

    /// A bytes field.
    member _.Bytes(field: int, data: ReadOnlySpan<byte>) : unit =
        key field 2
        varint (uint64 data.Length)
        stream.Write data

    /// A string field, UTF-8 encoded.
    member w.String(field: int, value: string) : unit = w.Bytes(field, ReadOnlySpan(Encoding.UTF8.GetBytes value))

    /// A nested message, written by `write` into a writer of its own first, since its length comes before it.
    member w.Message(field: int, write: ProtoWriter -> unit) : unit =
        use inner = new ProtoWriter()
        write inner
        w.Bytes(field, inner.Written)

    /// What has been written so far.
    member _.Written: ReadOnlySpan<byte> = ReadOnlySpan(stream.GetBuffer(), 0, int stream.Length)

    interface IDisposable with
        member _.Dispose() = stream.Dispose()
