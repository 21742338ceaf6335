using System.Runtime.InteropServices;

namespace Virt.Shared.Abi;

/// <summary>
/// IN value table (0xB00, 1 KiB): values of side-effect-free registers the device model publishes
/// so the monitor can answer an IN on a range claimed with <see cref="Control.ClaimFlags.CachedReads"/>
/// with no round trip (an "inport table"). The device model may rewrite it at any time
/// (an input byte arrives, the clock ticks) under the seqlock Generation: odd while it writes, then
/// even. A reader that sees an odd or changed Generation does a synchronous IN instead.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 1024)]
public unsafe struct InValueTable
{
    /// <summary>Device model writes: valid slots (at most 60; more is refused as 0).</summary>
    [FieldOffset(0x00)] public uint Count;
    /// <summary>Seqlock: odd while the device model updates the table.</summary>
    [FieldOffset(0x04)] public uint Generation;
    /// <summary>60 slots of 16 bytes from 0x40 (<see cref="InTableSlot"/>; use <see cref="CommPageAccess.TableSlot"/>).</summary>
    [FieldOffset(0x40)] public fixed byte Slots[CommPageLayout.InTableSlots * 16];
}

/// <summary>
/// One cached IN value. It answers an IN of Size bytes at Port only while no batched write to a port
/// in [DependsOn, DependsOn + DependsCount) is pending (else the ring is flushed first: the
/// status-after-command case), and, when Keyed, only while the last value the guest wrote to KeyPort,
/// masked with KeyMask, equals KeyValue (an index/data pair such as the RTC's 0x70/0x71).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
public struct InTableSlot
{
    [FieldOffset(0x00)] public ushort Port;
    [FieldOffset(0x02)] public byte Size;
    /// <summary><see cref="InTableSlotFlags"/>.</summary>
    [FieldOffset(0x03)] public byte Flags;
    [FieldOffset(0x04)] public uint Value;
    [FieldOffset(0x08)] public ushort DependsOn;
    [FieldOffset(0x0A)] public ushort DependsCount;
    [FieldOffset(0x0C)] public ushort KeyPort;
    [FieldOffset(0x0E)] public byte KeyValue;
    [FieldOffset(0x0F)] public byte KeyMask;
}

[Flags]
public enum InTableSlotFlags : byte
{
    None = 0,
    Valid = 1,
    Keyed = 2,
}
