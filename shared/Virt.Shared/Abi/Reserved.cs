using System.Runtime.InteropServices;

namespace Virt.Shared.Abi;

/// <summary>
/// OUT batch ring (0x700, 1 KiB). Reserved for the batching issue: the monitor will append
/// batchable OUTs (Head, producer) and the device model drain them (Tail, consumer), in order.
/// Layout fixed now so the page does not move: 64-byte header, then 60 slots of 16 bytes.
/// Today both indices stay 0 and the monitor does not read this area.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 1024)]
public unsafe struct OutBatchRing
{
    /// <summary>Monitor writes: next slot to fill (free-running; slot = Head % 60).</summary>
    [FieldOffset(0x00)] public uint Head;
    /// <summary>Device model writes: next slot to drain (free-running).</summary>
    [FieldOffset(0x04)] public uint Tail;
    /// <summary>Slots from 0x40: u16 port, u8 size, u8 flags, u32 value, u64 reserved.</summary>
    [FieldOffset(0x40)] public fixed byte Slots[CommPageLayout.OutRingSlots * 16];
}

/// <summary>
/// IN value table (0xB00, 1 KiB). Reserved for the batching issue: the device model will publish
/// values of side-effect-free status ports here, each valid only while no batched OUT it depends
/// on is pending. 64-byte header, then 60 slots of 16 bytes. Not read by the monitor today.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 1024)]
public unsafe struct InValueTable
{
    /// <summary>Device model writes: number of valid slots (at most 60).</summary>
    [FieldOffset(0x00)] public uint Count;
    /// <summary>Device model increments around updates (odd = update in progress), a seqlock.</summary>
    [FieldOffset(0x04)] public uint Generation;
    /// <summary>Slots from 0x40: u16 port, u8 size, u8 valid, u32 value, u16 depends-on port, u16 reserved, u32 reserved.</summary>
    [FieldOffset(0x40)] public fixed byte Slots[CommPageLayout.InTableSlots * 16];
}
