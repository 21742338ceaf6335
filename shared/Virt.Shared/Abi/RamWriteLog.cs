using System.Runtime.InteropServices;

namespace Virt.Shared.Abi;

/// <summary>
/// RAM write log (0xF00, 256 bytes): the guest-physical ranges the device model wrote while it
/// served an exit (string I/O assist, DMA). The monitor drops its decoded code for those pages at
/// completion (a write by another process does not pass the monitor's write tracking). Count
/// above 30 means "more than fit": the monitor drops decoded code for all of RAM. The monitor
/// clears Count before it publishes an exit.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 256)]
public unsafe struct RamWriteLog
{
    [FieldOffset(0x00)] public uint Count;
    /// <summary>30 slots of {u32 address, u32 length} from 0x10 (<see cref="RamWriteSlot"/>).</summary>
    [FieldOffset(0x10)] public fixed byte Slots[CommPageLayout.RamWriteSlots * 8];
}

[StructLayout(LayoutKind.Explicit, Size = 8)]
public struct RamWriteSlot
{
    [FieldOffset(0x00)] public uint Address;
    [FieldOffset(0x04)] public uint Length;
}
