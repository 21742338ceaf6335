using System.Buffers.Binary;
using System.Text;

namespace Virt.Shared.Control;

/// <summary>Reads a payload; every read is bounds-checked and a short payload throws <see cref="ProtocolException"/>.</summary>
public ref struct PayloadReader(ReadOnlySpan<byte> payload)
{
    private ReadOnlySpan<byte> _rest = payload;

    private ReadOnlySpan<byte> Take(int n)
    {
        if (_rest.Length < n) throw new ProtocolException("payload too short");
        var s = _rest[..n];
        _rest = _rest[n..];
        return s;
    }

    public byte U8() => Take(1)[0];
    public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));
    public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
    public int I32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));
    public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));
    public byte[] Bytes(int n) => Take(n).ToArray();
    public string Str() => Encoding.UTF8.GetString(Take(U16()));

    /// <summary>u32 byte length, then the bytes (at most one frame's payload).</summary>
    public byte[] Blob()
    {
        uint n = U32();
        if (n > Protocol.MaxPayload) throw new ProtocolException("blob longer than a frame");
        return Bytes((int)n);
    }

    public int Remaining => _rest.Length;
}

/// <summary>A malformed frame or a message out of order: the connection is closed.</summary>
public sealed class ProtocolException(string message) : Exception(message);
