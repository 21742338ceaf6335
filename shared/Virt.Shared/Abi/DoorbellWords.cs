using System.Runtime.InteropServices;

namespace Virt.Shared.Abi;

/// <summary>
/// One direction of the wake-up protocol, alone on its 64-byte cache line so that the two sides'
/// spinning never share a line. Seq is the futex word; Sleeping tells the writer of Seq that the
/// reader is (about to be) asleep in FUTEX_WAIT and must be woken with FUTEX_WAKE. RunningCpu
/// (adaptive wake-up only) is the CPU + 1 the reader ran on when its last wait ended, 0 unknown:
/// the other side's adaptive waiter does not spin while the two share a CPU, it yields the CPU to the
/// reader instead (docs/wakeup.md).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public struct DoorbellWords
{
    [FieldOffset(0x00)] public uint Seq;
    [FieldOffset(0x04)] public uint Sleeping;
    [FieldOffset(0x08)] public uint RunningCpu;
}
