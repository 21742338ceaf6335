using Virt.Devices.Bus;
using Virt.Pc.Board;

namespace Virt.Pc.Tests.Wiring;

/// <summary>Ranges in one order, to compare what devices claim with what the board says.</summary>
internal static class Claims
{
    public static IEnumerable<BusRange> Sorted(IEnumerable<BusRange> ranges) => ranges.OrderBy(r => r.Space).ThenBy(r => r.Start);

    public static IEnumerable<BusRange> Of(IEnumerable<IDevice> devices) => Sorted(devices.SelectMany(d => d.Ranges));

    public static IEnumerable<BusRange> Of(IEnumerable<BoardDevice> devices) => Sorted(devices.SelectMany(d => d.Ranges));
}
