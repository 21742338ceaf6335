using System.Runtime.InteropServices;

namespace Virt.Shared.Abi;

/// <summary>
/// OUT batch ring (0x700, 1 KiB): writes to ranges claimed with <see cref="Control.ClaimFlags.BatchedWrites"/>
/// wait here, in guest order, instead of costing a round trip each (an idea from plex86).
/// Between exits the ring belongs to the monitor: it appends at slot Pending and bumps Pending.
/// While an exit is published it belongs to the device model, which performs slots [0, Pending)
/// in order before it services the exit itself, then sets Drained = Pending. After the completion
/// the monitor checks Drained == Pending and empties the ring (Pending = Drained = 0).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 1024)]
public unsafe struct OutBatchRing
{
    /// <summary>Monitor writes: slots filled (0-60).</summary>
    [FieldOffset(0x00)] public uint Pending;
    /// <summary>Device model writes while serving an exit: slots performed (must end equal to Pending).</summary>
    [FieldOffset(0x04)] public uint Drained;
    /// <summary>60 slots of 16 bytes from 0x40 (<see cref="OutRingSlot"/>; use <see cref="CommPageAccess.RingSlot"/>).</summary>
    [FieldOffset(0x40)] public fixed byte Slots[CommPageLayout.OutRingSlots * 16];
}

/// <summary>One batched write.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
public struct OutRingSlot
{
    /// <summary>Port number or guest-physical MMIO address.</summary>
    [FieldOffset(0x00)] public uint Address;
    /// <summary>0 port, 1 MMIO (the AddressSpace numbers of a claim).</summary>
    [FieldOffset(0x04)] public byte Space;
    /// <summary>1, 2, 4 (8 for MMIO).</summary>
    [FieldOffset(0x05)] public byte Size;
    [FieldOffset(0x08)] public ulong Value;
}
