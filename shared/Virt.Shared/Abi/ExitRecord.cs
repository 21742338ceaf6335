using System.Runtime.InteropServices;

namespace Virt.Shared.Abi;

/// <summary>
/// The exit the monitor hands to the device model. The monitor writes everything up to Data and
/// clears Status; the device model writes Data (reads), Status and StatusArg, then rings DoneSeq.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public struct ExitRecord
{
    /// <summary><see cref="ExitReason"/>.</summary>
    [FieldOffset(0x00)] public uint Reason;
    /// <summary>The value of the monitor's doorbell Seq for this exit.</summary>
    [FieldOffset(0x04)] public uint Seq;
    /// <summary>Port number (PortIo) or guest-physical address (Mmio).</summary>
    [FieldOffset(0x08)] public ulong Address;
    /// <summary>Bytes per access (per element for string I/O): 1, 2, 4, or 8 for MMIO.</summary>
    [FieldOffset(0x10)] public byte Size;
    /// <summary><see cref="ExitDirection"/>.</summary>
    [FieldOffset(0x11)] public byte Direction;
    /// <summary><see cref="ExitFlags"/>.</summary>
    [FieldOffset(0x12)] public byte Flags;
    /// <summary>String I/O assist: the segment register of the memory operand (0 ES, 1 CS, 2 SS, 3 DS, 4 FS, 5 GS).</summary>
    [FieldOffset(0x13)] public byte Segment;
    /// <summary>String I/O: elements in the data page (Count * Size &lt;= 4096); 1 otherwise.</summary>
    [FieldOffset(0x14)] public uint Count;
    /// <summary>OUT / MMIO write value, or the IN / MMIO read result (low Size bytes count).</summary>
    [FieldOffset(0x18)] public ulong Data;
    /// <summary><see cref="CompletionStatus"/>, written by the device model.</summary>
    [FieldOffset(0x20)] public uint Status;
    /// <summary>Argument of the status (StopVm: the value written to the exit port).</summary>
    [FieldOffset(0x24)] public uint StatusArg;
    /// <summary>
    /// Reported only: the device model's CLOCK_MONOTONIC (ns; Stopwatch on Linux) when its wait for this
    /// exit ended, and when it completed it (just before ringing), written only when the monitor asks by
    /// publishing SeenAt = <see cref="StampRequested"/> (one round trip in a few; 0: do not stamp). The
    /// monitor splits the round trip's latency with them (docs/wakeup.md); a device model that predates
    /// them leaves them as they were, and values out of order leave the split out. Never used for anything else.
    /// </summary>
    [FieldOffset(0x28)] public long SeenAt;
    [FieldOffset(0x30)] public long CompletedAt;

    /// <summary>SeenAt as the monitor publishes it to ask for the stamps.</summary>
    public const long StampRequested = 1;
}
