using System.Runtime.InteropServices;

namespace Virt.Shared.Abi;

/// <summary>
/// One direction of the wake-up protocol, alone on its 64-byte cache line so that the two sides'
/// spinning never share a line. Seq is the futex word; Sleeping tells the writer of Seq that the
/// reader is (about to be) asleep in FUTEX_WAIT and must be woken with FUTEX_WAKE.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public struct DoorbellWords
{
    [FieldOffset(0x00)] public uint Seq;
    [FieldOffset(0x04)] public uint Sleeping;
}
