using System.Buffers.Binary;
using System.Text;

namespace Virt.Shared.Control;

/// <summary>Builds a frame: 8-byte header (u32 payload length, u16 type, u16 zero) and a little-endian payload.</summary>
public sealed class PayloadWriter
{
    private byte[] _buffer = new byte[256];
    private int _length = Protocol.HeaderSize;

    public PayloadWriter(MessageType type) => BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(4), (ushort)type);

    private Span<byte> Take(int n)
    {
        if (_length + n > _buffer.Length) Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + n));
        var s = _buffer.AsSpan(_length, n);
        _length += n;
        return s;
    }

    public PayloadWriter U8(byte v) { Take(1)[0] = v; return this; }
    public PayloadWriter U16(ushort v) { BinaryPrimitives.WriteUInt16LittleEndian(Take(2), v); return this; }
    public PayloadWriter U32(uint v) { BinaryPrimitives.WriteUInt32LittleEndian(Take(4), v); return this; }
    public PayloadWriter I32(int v) { BinaryPrimitives.WriteInt32LittleEndian(Take(4), v); return this; }
    public PayloadWriter U64(ulong v) { BinaryPrimitives.WriteUInt64LittleEndian(Take(8), v); return this; }
    public PayloadWriter Bytes(ReadOnlySpan<byte> v) { v.CopyTo(Take(v.Length)); return this; }

    /// <summary>u32 byte length, then the bytes.</summary>
    public PayloadWriter Blob(ReadOnlySpan<byte> v) => U32((uint)v.Length).Bytes(v);

    /// <summary>u16 byte length, then UTF-8 bytes.</summary>
    public PayloadWriter Str(string v)
    {
        byte[] b = Encoding.UTF8.GetBytes(v);
        if (b.Length > ushort.MaxValue) throw new ArgumentException("string too long", nameof(v));
        U16((ushort)b.Length);
        return Bytes(b);
    }

    /// <summary>The finished frame, header included.</summary>
    public ReadOnlyMemory<byte> ToFrame()
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer, (uint)(_length - Protocol.HeaderSize));
        return _buffer.AsMemory(0, _length);
    }
}
