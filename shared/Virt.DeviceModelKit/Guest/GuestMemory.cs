using Virt.Shared.Runtime;

namespace Virt.DeviceModelKit.Guest;

/// <summary>Guest-physical RAM as the device model maps it (the shared RAM file): DMA and buffers, bounds-checked.</summary>
public sealed class GuestMemory(SharedRegion ram)
{
    public ulong Size => (ulong)ram.Size;

    public void Read(ulong address, Span<byte> into) => Check(address, into.Length).CopyTo(into);

    public void Write(ulong address, ReadOnlySpan<byte> data) => data.CopyTo(Check(address, data.Length));

    private Span<byte> Check(ulong address, int length)
    {
        if (address > Size || (ulong)length > Size - address)
            throw new ArgumentOutOfRangeException(nameof(address), $"guest access 0x{address:X}+{length} outside RAM");
        return ram.AsSpan((long)address, length);
    }
}
