using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Virt.Devices.State;

/// <summary>Little-endian writer for device state blobs; starts every blob with tag and version.</summary>
public sealed class StateWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new(256);

    public StateWriter(string tag, ushort version) => Restart(tag, version);

    /// <summary>An empty writer, to be reused: each blob starts with <see cref="Restart"/>.</summary>
    public StateWriter() { }

    /// <summary>
    /// Forgets what was written and starts a new blob (tag and version). Allocates nothing once the
    /// buffer has grown to the blob's size: the device model's crash snapshot after a synchronous
    /// write is on the exit path (docs/wakeup.md, "Allocations per exit").
    /// </summary>
    public StateWriter Restart(string tag, ushort version)
    {
        if (tag.Length != 4 || !Ascii.IsValid(tag))
            throw new ArgumentException("State tags are four ASCII characters.", nameof(tag));
        _buffer.ResetWrittenCount();
        Encoding.ASCII.GetBytes(tag, _buffer.GetSpan(4));
        _buffer.Advance(4);
        WriteUInt16(version);
        return this;
    }

    /// <summary>The blob written so far.</summary>
    public ReadOnlySpan<byte> Written => _buffer.WrittenSpan;

    /// <summary>Appends a blob made elsewhere as it is (a device that saves only through <see cref="IStatefulDevice.SaveState()"/>).</summary>
    public StateWriter Raw(ReadOnlySpan<byte> blob)
    {
        _buffer.ResetWrittenCount();
        WriteBytes(blob);
        return this;
    }

    /// <summary>A length-prefixed byte run of <paramref name="length"/> bytes for the caller to fill (a ring buffer's contents).</summary>
    public Span<byte> BytesToFill(int length)
    {
        Int32(length);
        Span<byte> span = _buffer.GetSpan(length)[..length];
        _buffer.Advance(length);
        return span;
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
