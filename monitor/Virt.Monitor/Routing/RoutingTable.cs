using Virt.Shared.Routing;

namespace Virt.Monitor.Routing;

/// <summary>
/// An immutable snapshot of the claims the VCPU routes by: one <see cref="AddressMap{T}"/> per
/// address space, the same map type a device model's bus finds its devices in. Built off the VCPU
/// thread and published with one reference store; never changed afterwards, so the VCPU loads the
/// reference once per exit and looks up (a binary search over a few dozen ranges) without a lock.
/// </summary>
public sealed class RoutingTable
{
    public static readonly RoutingTable Empty = new(new AddressMap<BusClaim>(), new AddressMap<BusClaim>());

    private readonly AddressMap<BusClaim> _ports;
    private readonly AddressMap<BusClaim> _mmio;

    private RoutingTable(AddressMap<BusClaim> ports, AddressMap<BusClaim> mmio)
    {
        _ports = ports;
        _mmio = mmio;
    }

    /// <summary>
    /// A table of <paramref name="routed"/>, which the router has already checked to be disjoint, and of
    /// those <paramref name="awaited"/> ranges that overlap none of them (a restored model's ranges, until it routes its own).
    /// </summary>
    public static RoutingTable Build(IEnumerable<BusClaim> routed, IEnumerable<BusClaim> awaited)
    {
        var ports = new AddressMap<BusClaim>();
        var mmio = new AddressMap<BusClaim>();
        foreach (BusClaim c in routed)
            (c.Range.Space == AddressSpace.Port ? ports : mmio).Claim(c.Range.Start, c.Range.Length, c);
        foreach (BusClaim c in awaited)
            (c.Range.Space == AddressSpace.Port ? ports : mmio).TryClaim(c.Range.Start, c.Range.Length, c, out _);
        return new RoutingTable(ports, mmio);
    }

    public BusClaim? OfPort(ushort port) => _ports.OwnerAt(port);

    public BusClaim? OfMmio(ulong address) => _mmio.OwnerAt(address);
}
