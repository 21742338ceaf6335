using System.Buffers.Binary;
using System.Text;

namespace Virt.Devices.State;

/// <summary>
/// Reader matching <see cref="StateWriter"/>. Construction checks the tag and version, and every
/// read checks the length, so a wrong or damaged blob fails with a message naming the device
/// instead of leaving it half restored.
/// </summary>
public ref struct StateReader
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly string _device;
    private int _position;

    public StateReader(ReadOnlySpan<byte> data, string device, string tag, ushort supportedVersion)
    {
        _data = data;
        _device = device;
        _position = 0;
        if (data.Length < 6)
            throw new DeviceStateException($"{device}: saved state is {data.Length} bytes, too short for a header.");
        var actualTag = Encoding.ASCII.GetString(data[..4]);
        if (actualTag != tag)
            throw new DeviceStateException($"{device}: saved state is for '{actualTag}', expected '{tag}'.");
        _position = 4;
        Version = UInt16();
        if (Version != supportedVersion)
            throw new DeviceStateException(
                $"{device}: saved state version {Version} is not supported (this build reads version {supportedVersion}).");
    }

    public ushort Version { get; }

    public byte Byte() => Take(1)[0];

    public bool Bool() => Take(1)[0] != 0;

    public ushort UInt16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));

    public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

    public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

    public ReadOnlySpan<byte> Bytes(int maxLength)
    {
        int length = Int32();
        if (length < 0 || length > maxLength)
            throw new DeviceStateException($"{_device}: saved state holds a run of {length} bytes, at most {maxLength} allowed.");
        return Take(length);
    }

    /// <summary>Call after the last field: trailing bytes mean the blob was not written by this version.</summary>
    public readonly void End()
    {
        if (_position != _data.Length)
            throw new DeviceStateException($"{_device}: saved state has {_data.Length - _position} unexpected trailing bytes.");
    }

    /// <summary>Rejects a restored field outside its valid range.</summary>
    public readonly int Check(int value, int min, int max, string field)
    {
        if (value < min || value > max)
            throw new DeviceStateException($"{_device}: saved field {field} = {value} is outside {min}..{max}.");
        return value;
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (_data.Length - _position < count)
            throw new DeviceStateException($"{_device}: saved state is truncated at byte {_position}.");
        var span = _data.Slice(_position, count);
        _position += count;
        return span;
    }
}
