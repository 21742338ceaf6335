using Virt.Shared.Routing;

namespace Virt.Devices.Bus;

/// <summary>
/// A device, written once against this small bus interface, so the same class can be hosted in
/// the monitor process (platform devices that must be fast) or in a device model process.
/// All calls come from one thread at a time (the host serialises them).
/// </summary>
public interface IDevice
{
    /// <summary>Short name used in claims, statistics and error messages (e.g. "uart0").</summary>
    string Name { get; }

    /// <summary>The port and MMIO ranges this device answers. Fixed after <see cref="Attach"/>.</summary>
    IReadOnlyList<BusRange> Ranges { get; }

    /// <summary>Called once by the host before any access: the device keeps the host to raise IRQs and reach guest memory.</summary>
    void Attach(IDeviceHost host);

    /// <summary>A port read inside one of the device's ranges; size is 1, 2 or 4.</summary>
    uint PortRead(ushort port, int size) => IoSize.AllOnes32(size);

    /// <summary>A port write inside one of the device's ranges; only the low size bytes count.</summary>
    void PortWrite(ushort port, int size, uint value) { }

    /// <summary>An MMIO read inside one of the device's ranges; size is 1, 2, 4 or 8.</summary>
    ulong MmioRead(ulong address, int size) => IoSize.AllOnes(size);

    /// <summary>An MMIO write inside one of the device's ranges.</summary>
    void MmioWrite(ulong address, int size, ulong value) { }
}
