namespace Virt.Devices.Bus;

/// <summary>
/// How a host may shorten the path to a range of a device (the batched I/O first proposed for plex86): writes that can wait and be
/// delivered later in order, and reads a host may answer from a value the device published.
/// Ports a device does not list are synchronous: every access reaches the device at once.
/// </summary>
[Flags]
public enum AccessPolicy
{
    Synchronous = 0,
    /// <summary>Writes may be delivered late (in guest order, before any synchronous access to the same device model).</summary>
    BatchedWrites = 1,
    /// <summary>Reads may be answered from what <see cref="ICachedReads.PublishCachedReads"/> published.</summary>
    CachedReads = 2,
    /// <summary>Accesses may end or reset the machine or switch A20: the host grants this only to ranges that declare it.</summary>
    PlatformEvents = 4,
}

/// <summary>The policy of one range (a sub-range of the device's <see cref="IDevice.Ranges"/>).</summary>
public readonly record struct RangePolicy(BusRange Range, AccessPolicy Policy);

/// <summary>A device that declares access policies for some of its ranges.</summary>
public interface IAccessPolicies
{
    IReadOnlyList<RangePolicy> Policies { get; }
}

/// <summary>
/// A read a host may answer without calling the device: Value is what a read of Size bytes at Port
/// returns now, with no side effect. It goes stale when a write to [DependsOn, DependsOn +
/// DependsCount) is pending; when Keyed, it holds only while the last value written to KeyPort,
/// masked with KeyMask, is KeyValue (an index register selects it).
/// </summary>
public readonly record struct CachedRead(ushort Port, int Size, uint Value, ushort DependsOn, ushort DependsCount,
    bool Keyed = false, ushort KeyPort = 0, byte KeyValue = 0, byte KeyMask = 0);

/// <summary>A device with cached-read ranges: publishes the values that are safe to answer for it right now.</summary>
public interface ICachedReads
{
    /// <summary>Adds the cacheable reads (no side effects, value current) to <paramref name="into"/>. Called under the host's device lock.</summary>
    void PublishCachedReads(List<CachedRead> into);
}
