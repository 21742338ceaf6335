using MemoryPack;

namespace Virt.Monitor.Snapshot;

/// <summary>One device model at the save: who it was, what it claimed, and its devices' state (what it sent for SaveState).</summary>
[MemoryPackable(GenerateType.VersionTolerant)]
public sealed partial class DeviceModelImage
{
    /// <summary>Its name in Hello.</summary>
    [MemoryPackOrder(0)] public string Name { get; set; } = "";
    /// <summary>The --dm command the monitor started it with; empty for one started by hand (external).</summary>
    [MemoryPackOrder(1)] public string Command { get; set; } = "";
    [MemoryPackOrder(2)] public List<ClaimImage> Claims { get; set; } = new();
    [MemoryPackOrder(3)] public List<DeviceStateImage> States { get; set; } = new();
    [MemoryPackOrder(4)] public bool PlatformAuthority { get; set; }
}

/// <summary>A range the device model claimed (docs/control-protocol.md, Claim).</summary>
[MemoryPackable(GenerateType.VersionTolerant)]
public sealed partial class ClaimImage
{
    [MemoryPackOrder(0)] public string Device { get; set; } = "";
    /// <summary>"ports" or "mmio".</summary>
    [MemoryPackOrder(1)] public string Space { get; set; } = "";
    [MemoryPackOrder(2)] public ulong Start { get; set; }
    [MemoryPackOrder(3)] public ulong Length { get; set; }
}
