namespace Virt.DeviceModelKit.Exits;

/// <summary>
/// One read the monitor may answer from the IN value table (docs/abi.md): a read of Size bytes at
/// Port returns Value. Stale while a write to [DependsOn, DependsOn + DependsCount) is pending; when
/// Keyed, valid only while the last value written to KeyPort, masked with KeyMask, is KeyValue.
/// </summary>
public readonly record struct InTableEntry(ushort Port, int Size, uint Value, ushort DependsOn, ushort DependsCount,
    bool Keyed = false, ushort KeyPort = 0, byte KeyValue = 0, byte KeyMask = 0);
