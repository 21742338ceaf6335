using MemoryPack;

namespace Virt.Monitor.Snapshot;

/// <summary>
/// The structured part of a snapshot (docs/snapshots.md), MemoryPack-serialized with version
/// tolerance: a later build may add members at new orders (an older reader skips them) and reads
/// an older manifest's missing members as their defaults. What a build cannot make sense of (a
/// <see cref="SchemaVersion"/> above its own) is refused before anything starts.
/// </summary>
[MemoryPackable(GenerateType.VersionTolerant)]
public sealed partial class SnapshotManifest
{
    /// <summary>The manifest's own version: raised when a member changes meaning, not when one is added.</summary>
    public const int CurrentSchema = 1;

    [MemoryPackOrder(0)] public int SchemaVersion { get; set; } = CurrentSchema;
    [MemoryPackOrder(1)] public long RamSize { get; set; }
    [MemoryPackOrder(2)] public MachineImage Machine { get; set; } = new();
    [MemoryPackOrder(3)] public CpuImage Cpu { get; set; } = new();
    [MemoryPackOrder(4)] public PlatformImage Platform { get; set; } = new();
    [MemoryPackOrder(5)] public List<DeviceModelImage> DeviceModels { get; set; } = new();
    [MemoryPackOrder(6)] public RunCountersImage Counters { get; set; } = new();
    /// <summary>When and by which monitor: for the user's eyes only.</summary>
    [MemoryPackOrder(7)] public string SavedBy { get; set; } = "";
    [MemoryPackOrder(8)] public DateTime SavedAtUtc { get; set; }
}

/// <summary>How the machine was built: a restore builds the same one (whatever its own options say).</summary>
[MemoryPackable(GenerateType.VersionTolerant)]
public sealed partial class MachineImage
{
    /// <summary>"instructions" or "host" (Vm/GuestClock).</summary>
    [MemoryPackOrder(0)] public string Clock { get; set; } = "host";
    [MemoryPackOrder(1)] public long NanosecondsPerInstruction { get; set; }
    [MemoryPackOrder(2)] public bool Apic { get; set; } = true;
    [MemoryPackOrder(3)] public long TscHz { get; set; }
    [MemoryPackOrder(4)] public string CpuEngine { get; set; } = "";
}

/// <summary>The run's counters at the save, so a restored run's report can say where it began.</summary>
[MemoryPackable(GenerateType.VersionTolerant)]
public sealed partial class RunCountersImage
{
    [MemoryPackOrder(0)] public long Instructions { get; set; }
    [MemoryPackOrder(1)] public long UnclaimedAccesses { get; set; }
    [MemoryPackOrder(2)] public long Exits { get; set; }
    /// <summary>Guest time at the save, nanoseconds.</summary>
    [MemoryPackOrder(3)] public long GuestNanoseconds { get; set; }
}
