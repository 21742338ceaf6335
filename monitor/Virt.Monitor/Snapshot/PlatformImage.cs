using MemoryPack;

namespace Virt.Monitor.Snapshot;

/// <summary>The monitor's own platform: the chipset's devices (PIC, PIT, port 0x61, APICs) as their state blobs, the guest clock and A20.</summary>
[MemoryPackable(GenerateType.VersionTolerant)]
public sealed partial class PlatformImage
{
    [MemoryPackOrder(0)] public List<DeviceStateImage> Devices { get; set; } = new();
    /// <summary>The guest clock's reading at the save (ns): the restored clock continues from it, so timers keep their phase.</summary>
    [MemoryPackOrder(1)] public long ClockTimestamp { get; set; }
    [MemoryPackOrder(2)] public bool A20Enabled { get; set; } = true;
}

/// <summary>One device's state blob, in the device's own versioned format (tag and version first: devicemodel/Virt.Devices/State).</summary>
[MemoryPackable(GenerateType.VersionTolerant)]
public sealed partial class DeviceStateImage
{
    [MemoryPackOrder(0)] public string Device { get; set; } = "";
    [MemoryPackOrder(1)] public byte[] Blob { get; set; } = [];
}
