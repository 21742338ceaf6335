using Virt.Pc.Board;

namespace Virt.Pc.Tests.Board;

public class PcInterruptRoutingTests
{
    [Fact]
    public void Irq0_is_on_pin_2_and_every_other_line_on_its_own_pin()
    {
        Assert.Equal(2, PcInterruptRouting.IoApicPin(IsaIrq.Timer));
        for (int irq = 1; irq < IsaIrq.Count; irq++)
            Assert.Equal(irq, PcInterruptRouting.IoApicPin(irq));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(16)]
    public void A_line_that_is_not_ISA_has_no_pin(int line)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PcInterruptRouting.IoApicPin(line));
    }

    [Fact]
    public void The_routes_leave_out_the_cascade_and_give_every_line_its_own_pin()
    {
        var routes = PcInterruptRouting.IoApicRoutes().ToList();
        Assert.Equal(IsaIrq.Count - 1, routes.Count);
        Assert.DoesNotContain(routes, r => r.IsaIrq == IsaIrq.Cascade);
        Assert.Equal(routes.Count, routes.Select(r => r.Pin).Distinct().Count());
        Assert.Contains((IsaIrq.Timer, PcInterruptRouting.TimerIoApicPin), routes);
    }
}
