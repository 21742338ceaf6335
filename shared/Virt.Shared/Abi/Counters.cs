using System.Runtime.InteropServices;

namespace Virt.Shared.Abi;

/// <summary>Counters the monitor keeps in the page (the device model may read them, never trusts them to be exact).</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public struct MonitorCounters
{
    /// <summary>Every exit of the VCPU (in-monitor devices included).</summary>
    [FieldOffset(0x00)] public ulong Exits;
    /// <summary>Exits published to the device model and completed (one switch each way).</summary>
    [FieldOffset(0x08)] public ulong RoundTrips;
    /// <summary>Values read from the page that failed validation and were refused.</summary>
    [FieldOffset(0x10)] public ulong Refused;
    /// <summary>Rising IRQ edges taken from the IRQ words.</summary>
    [FieldOffset(0x18)] public ulong IrqEdges;
    /// <summary>State areas the device model got from the page with no extra round trip.</summary>
    [FieldOffset(0x20)] public ulong StateServedFromPage;
    /// <summary>NeedState round trips (state the monitor had not cached).</summary>
    [FieldOffset(0x28)] public ulong StateFetches;
    /// <summary>Writes that went into the OUT batch ring instead of a round trip.</summary>
    [FieldOffset(0x30)] public ulong BatchedWrites;
    /// <summary>INs answered from the IN value table.</summary>
    [FieldOffset(0x38)] public ulong CachedReadHits;
}

/// <summary>Counters the device model keeps (untrusted: the monitor only reports them).</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public struct DeviceModelCounters
{
    [FieldOffset(0x00)] public ulong ExitsServed;
    [FieldOffset(0x08)] public ulong IrqChanges;
    [FieldOffset(0x10)] public ulong Unhandled;
    /// <summary>GetState calls answered from the page.</summary>
    [FieldOffset(0x18)] public ulong StateFromPage;
    /// <summary>GetState calls that needed a NeedState round trip.</summary>
    [FieldOffset(0x20)] public ulong StateRoundTrips;
    /// <summary>SetState calls that needed a round trip of their own (no CommitOnCompletion).</summary>
    [FieldOffset(0x28)] public ulong CommitRoundTrips;
    /// <summary>Batched writes performed from the OUT ring.</summary>
    [FieldOffset(0x30)] public ulong BatchedWritesDrained;
}
