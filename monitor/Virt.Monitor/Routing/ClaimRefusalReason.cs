namespace Virt.Monitor.Routing;

/// <summary>
/// Why the monitor refuses a claim (docs/control-protocol.md, "Attach", step 3). Code decides on
/// these; the text a device model reads in ClaimResult is made from them in one place,
/// <see cref="ClaimRefusal.Message"/>.
/// </summary>
public enum ClaimRefusalReason
{
    /// <summary>Space is neither 0 (ports) nor 1 (MMIO).</summary>
    UnknownSpace,
    /// <summary>Flags has bits no policy defines.</summary>
    UndefinedFlags,
    /// <summary>BatchedWrites without the OutBatchRing feature negotiated.</summary>
    BatchedWritesWithoutRing,
    /// <summary>CachedReads without the InValueTable feature negotiated.</summary>
    CachedReadsWithoutTable,
    /// <summary>CachedReads on an MMIO range: the IN table holds ports only.</summary>
    CachedReadsOnMmio,
    /// <summary>PlatformEvents with BatchedWrites: an event must complete the write that raises it.</summary>
    PlatformEventsBatched,
    /// <summary>PlatformEvents from a device model attached after the VM started (not one replacing a model it was started with).</summary>
    PlatformEventsNotOwner,
    /// <summary>The device name is empty or longer than 64 characters.</summary>
    DeviceNameLength,
    /// <summary>A range of length 0.</summary>
    EmptyRange,
    /// <summary>A port range that goes past port 0xFFFF.</summary>
    PortsPastEnd,
    /// <summary>An MMIO range that goes past 4 GiB.</summary>
    MmioPast4GiB,
    /// <summary>An MMIO range that starts inside guest RAM.</summary>
    MmioInRam,
    /// <summary>SharedMemory on a port range: it is memory, for MMIO only.</summary>
    SharedMemoryOnPorts,
    /// <summary>Constant on an MMIO range: constant ranges are ports (shared memory is the MMIO form).</summary>
    ConstantOnMmio,
    /// <summary>A region flag (SharedMemory, Constant) with any other flag: a region has no device code to batch, cache or raise events.</summary>
    RegionWithOtherFlags,
    /// <summary>A shared-memory range not page aligned, or not inside the part of the RAM file the guest's map leaves as a hole.</summary>
    SharedMemoryOutsideHole,
    /// <summary>The router holds as many claims as it numbers.</summary>
    TooManyClaims,
    /// <summary>The range overlaps a claim already made (the monitor's own devices, another device model's, or this one's).</summary>
    Overlap,
}
