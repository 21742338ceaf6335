namespace Virt.Devices.Bus;

/// <summary>What a side-effect-free region is (docs/placements.md, "Regions").</summary>
public enum RegionKind
{
    /// <summary>MMIO that is plain memory: the guest reads and writes it with no exit; the device reads it through its host's guest memory.</summary>
    SharedMemory,

    /// <summary>Ports that always read the same value and ignore writes: the monitor answers them, forever.</summary>
    Constant,
}

/// <summary>A range a device declares side-effect-free: no code of the device runs when the guest touches it.</summary>
/// <param name="Value">For <see cref="RegionKind.Constant"/>: what a read returns (its low size bytes).</param>
public readonly record struct DeclaredRegion(BusRange Range, RegionKind Kind, uint Value = 0);

/// <summary>
/// A device with side-effect-free regions, claimed beside its <see cref="IDevice.Ranges"/> (which never
/// hold them: no access to a region reaches the device). A host that cannot hand a region to its
/// monitor (one before control protocol 1.5) leaves it out and says so.
/// </summary>
public interface IDeclaredRegions
{
    IReadOnlyList<DeclaredRegion> Regions { get; }
}
