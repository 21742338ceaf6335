using System.Buffers.Binary;
using Virt.Devices.Bus;
using Virt.Devices.State;
using Virt.Shared.Routing;

namespace Virt.Harness;

/// <summary>
/// A scratch MMIO region: plain read/write memory behind the exit path, so a test guest can check
/// MMIO routing, access sizes and that a value survives (its contents move with a swap).
/// </summary>
public sealed class ScratchMemory(ulong start, int size) : IDevice, IStatefulDevice
{
    private const uint Tag = 0x48435253; // "SRCH" little-endian
    private const int Version = 1;
    private readonly byte[] _bytes = new byte[size];

    public string Name => "scratch";
    public IReadOnlyList<BusRange> Ranges { get; } = [BusRange.Mmio(start, (ulong)size)];

    public void Attach(IDeviceHost host) { }

    public ulong MmioRead(ulong address, int size)
    {
        ulong off = address - start;
        if (off + (ulong)size > (ulong)_bytes.Length) return IoSize.AllOnes(size);
        Span<byte> v = stackalloc byte[8];
        _bytes.AsSpan((int)off, size).CopyTo(v);
        return BinaryPrimitives.ReadUInt64LittleEndian(v);
    }

    public void MmioWrite(ulong address, int size, ulong value)
    {
        ulong off = address - start;
        if (off + (ulong)size > (ulong)_bytes.Length) return;
        Span<byte> v = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(v, value);
        v[..size].CopyTo(_bytes.AsSpan((int)off));
    }

    public byte[] SaveState()
    {
        var s = new byte[8 + _bytes.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(s, Tag);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(4), Version);
        _bytes.CopyTo(s, 8);
        return s;
    }

    public void RestoreState(ReadOnlySpan<byte> state)
    {
        if (state.Length != 8 + _bytes.Length || BinaryPrimitives.ReadUInt32LittleEndian(state) != Tag
            || BinaryPrimitives.ReadUInt32LittleEndian(state[4..]) != Version)
            throw new DeviceStateException("scratch: not a version 1 scratch blob of this size");
        state[8..].CopyTo(_bytes);
    }
}
