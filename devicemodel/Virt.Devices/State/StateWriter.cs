using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Virt.Devices.State;

/// <summary>Little-endian writer for device state blobs; starts every blob with tag and version.</summary>
public sealed class StateWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new(256);

    public StateWriter(string tag, ushort version)
    {
        if (tag.Length != 4)
            throw new ArgumentException("State tags are four ASCII characters.", nameof(tag));
        WriteBytes(Encoding.ASCII.GetBytes(tag));
        WriteUInt16(version);
    }

    public StateWriter Byte(byte value)
    {
        _buffer.GetSpan(1)[0] = value;
        _buffer.Advance(1);
        return this;
    }

    public StateWriter Bool(bool value) => Byte(value ? (byte)1 : (byte)0);

    public StateWriter UInt16(ushort value)
    {
        WriteUInt16(value);
        return this;
    }

    public StateWriter Int32(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
        return this;
    }

    public StateWriter Int64(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
        return this;
    }

    /// <summary>A length-prefixed byte run (FIFO contents, CMOS RAM).</summary>
    public StateWriter Bytes(ReadOnlySpan<byte> data)
    {
        Int32(data.Length);
        WriteBytes(data);
        return this;
    }

    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

    private void WriteUInt16(ushort value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.GetSpan(2), value);
        _buffer.Advance(2);
    }

    private void WriteBytes(ReadOnlySpan<byte> data)
    {
        data.CopyTo(_buffer.GetSpan(data.Length));
        _buffer.Advance(data.Length);
    }
}
