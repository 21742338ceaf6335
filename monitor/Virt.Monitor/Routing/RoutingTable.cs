namespace Virt.Monitor.Routing;

/// <summary>
/// An immutable snapshot of the claims the VCPU routes by: a flat port table (index into Claims + 1,
/// 0 = unclaimed) and the MMIO claims. Built off the VCPU thread and published with one reference
/// store; the VCPU loads the reference once per exit and never takes a lock.
/// </summary>
public sealed class RoutingTable
{
    public static readonly RoutingTable Empty = new(new ushort[0x10000], [], []);

    private RoutingTable(ushort[] ports, BusClaim[] claims, BusClaim[] mmio)
    {
        PortClaim = ports;
        Claims = claims;
        Mmio = mmio;
    }

    public ushort[] PortClaim { get; }

    public BusClaim[] Claims { get; }

    public BusClaim[] Mmio { get; }

    public static RoutingTable Build(IEnumerable<BusClaim> routed)
    {
        BusClaim[] claims = routed.ToArray();
        var ports = new ushort[0x10000];
        for (int i = 0; i < claims.Length; i++)
            if (claims[i].Range.Space == Virt.Devices.Bus.BusSpace.Port)
                for (ulong p = claims[i].Range.Start; p < claims[i].Range.End; p++) ports[p] = (ushort)(i + 1);
        return new RoutingTable(ports, claims, claims.Where(c => c.Range.Space == Virt.Devices.Bus.BusSpace.Mmio).ToArray());
    }

    public BusClaim? OfPort(ushort port) => PortClaim[port] is var c and not 0 ? Claims[c - 1] : null;

    public BusClaim? OfMmio(ulong address)
    {
        foreach (BusClaim c in Mmio)
            if (c.Range.Contains(address)) return c;
        return null;
    }
}
