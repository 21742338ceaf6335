using Virt.Devices.Platform;
using Virt.Devices.Tests.Support;

namespace Virt.Devices.Tests;

public class ApicTests
{
    private const ulong L = LocalApic.DefaultBase;

    private static (LocalApic Apic, TestHost Host) Enabled()
    {
        var host = new TestHost();
        var apic = new LocalApic();
        apic.Attach(host);
        apic.MmioWrite(L + 0xF0, 4, 0x1FF); // SVR: enabled, spurious vector 0xFF
        return (apic, host);
    }

    [Fact]
    public void IdVersionAndSoftwareEnable()
    {
        var (apic, _) = Enabled();
        Assert.Equal(0x0005_0014u, (uint)apic.MmioRead(L + 0x30, 4));
        apic.MmioWrite(L + 0x20, 4, 0x0300_0000);
        Assert.Equal(0x0300_0000u, (uint)apic.MmioRead(L + 0x20, 4));
        Assert.True(apic.SoftwareEnabled);
        Assert.Equal(0x1FFu, (uint)apic.MmioRead(L + 0xF0, 4));
    }

    [Fact]
    public void SelfIpiGoesThroughIrrIsrAndEoi()
    {
        var (apic, _) = Enabled();
        apic.MmioWrite(L + 0x300, 4, 0x0004_0040); // shorthand self, fixed, vector 0x40
        Assert.True(apic.HasInterrupt);
        Assert.Equal(1u << 0, (uint)apic.MmioRead(L + 0x220, 4)); // IRR bit 0x40
        Assert.Equal(0x40, apic.Acknowledge());
        Assert.Equal(1u << 0, (uint)apic.MmioRead(L + 0x120, 4)); // ISR bit 0x40
        Assert.Equal(0x40u, (uint)apic.MmioRead(L + 0xA0, 4));   // PPR = ISR class
        Assert.False(apic.HasInterrupt);
        apic.MmioWrite(L + 0xB0, 4, 0);
        Assert.Equal(0u, (uint)apic.MmioRead(L + 0x120, 4));
    }

    [Fact]
    public void TprBlocksLowerClasses()
    {
        var (apic, _) = Enabled();
        apic.MmioWrite(L + 0x80, 4, 0x50);
        apic.AcceptInterrupt(0x45, false);
        Assert.False(apic.HasInterrupt);
        apic.AcceptInterrupt(0x61, false);
        Assert.True(apic.HasInterrupt);
        Assert.Equal(0x61, apic.Acknowledge());
    }

    [Fact]
    public void OneShotTimerCountsDownAndFiresOnce()
    {
        var (apic, host) = Enabled();
        apic.MmioWrite(L + 0x3E0, 4, 0x3);          // divide by 16
        apic.MmioWrite(L + 0x320, 4, 0x30);         // one-shot, vector 0x30
        apic.MmioWrite(L + 0x380, 4, 1000);         // 1000 ticks at 100 MHz / 16 = 160 us
        host.Clock.Advance(TimeSpan.FromMicroseconds(80));
        Assert.InRange((uint)apic.MmioRead(L + 0x390, 4), 499u, 501u);
        Assert.NotNull(apic.NextDeadline);
        apic.Advance();
        Assert.False(apic.HasInterrupt);
        host.Clock.Advance(apic.NextDeadline!.Value);
        apic.Advance();
        Assert.Equal(0x30, apic.Acknowledge());
        Assert.Equal(0u, (uint)apic.MmioRead(L + 0x390, 4));
        Assert.Null(apic.NextDeadline);
    }

    [Fact]
    public void PeriodicTimerReloads()
    {
        var (apic, host) = Enabled();
        apic.MmioWrite(L + 0x3E0, 4, 0xB);          // divide by 1
        apic.MmioWrite(L + 0x320, 4, 0x2_0031);     // periodic, vector 0x31
        apic.MmioWrite(L + 0x380, 4, 100_000);      // 1 ms
        for (int i = 0; i < 3; i++)
        {
            host.Clock.Advance(TimeSpan.FromMilliseconds(1) + TimeSpan.FromTicks(1));
            apic.Advance();
            Assert.Equal(0x31, apic.Acknowledge());
            apic.MmioWrite(L + 0xB0, 4, 0);
        }
        Assert.NotNull(apic.NextDeadline);
    }

    /// <summary>
    /// A host that advances timers only when their deadline reads as due (the monitor does) must
    /// see a periodic timer's passed period as due, not as the distance to the period after it.
    /// </summary>
    [Fact]
    public void PeriodicTimerReadsAsDueOnceAPeriodHasPassed()
    {
        var (apic, host) = Enabled();
        apic.MmioWrite(L + 0x3E0, 4, 0xB);          // divide by 1
        apic.MmioWrite(L + 0x320, 4, 0x2_0031);     // periodic, vector 0x31
        apic.MmioWrite(L + 0x380, 4, 100_000);      // 1 ms
        for (int i = 0; i < 3; i++)
        {
            TimeSpan wait = apic.NextDeadline!.Value;
            Assert.InRange(wait, TimeSpan.FromMicroseconds(1), TimeSpan.FromMilliseconds(1) + TimeSpan.FromTicks(1));
            host.Clock.Advance(wait + TimeSpan.FromMicroseconds(300)); // late, as a host slice may be
            Assert.Equal(TimeSpan.Zero, apic.NextDeadline);
            apic.Advance();
            Assert.Equal(0x31, apic.Acknowledge());
            apic.MmioWrite(L + 0xB0, 4, 0);
            // The next period is counted from the last boundary, not from when the host noticed.
            Assert.InRange(apic.NextDeadline!.Value, TimeSpan.FromMicroseconds(690), TimeSpan.FromMicroseconds(710));
        }
    }

    [Fact]
    public void Lint0ExtIntPassesThePicThroughAndLint1RaisesNmi()
    {
        var (apic, _) = Enabled();
        bool pic = true;
        apic.ExtIntPending = () => pic;
        apic.ExtIntAcknowledge = () => { pic = false; return 0x08; };
        Assert.False(apic.HasInterrupt); // LINT0 masked after reset
        apic.ConfigureVirtualWire();
        Assert.True(apic.HasInterrupt);
        Assert.Equal(0x08, apic.Acknowledge());
        int nmis = 0;
        apic.NmiRequested += () => nmis++;
        apic.SetLint(1, true);
        Assert.Equal(1, nmis);
    }

    [Fact]
    public void IoApicRoutesEdgeAndLevelWithRemoteIrr()
    {
        var (apic, _) = Enabled();
        var io = new IoApic();
        io.Deliver = apic.AcceptInterrupt;
        apic.EndOfInterrupt += io.EndOfInterrupt;
        const ulong B = IoApic.DefaultBase;
        io.MmioWrite(B, 4, 1);
        Assert.Equal(0x0017_0011u, (uint)io.MmioRead(B + 0x10, 4));
        // Pin 2 edge vector 0x30; pin 9 level vector 0x39.
        io.MmioWrite(B, 4, 0x14); io.MmioWrite(B + 0x10, 4, 0x30);
        io.MmioWrite(B, 4, 0x22); io.MmioWrite(B + 0x10, 4, 0x8039);
        io.SetPin(2, true);
        Assert.Equal(0x30, apic.Acknowledge());
        apic.MmioWrite(L + 0xB0, 4, 0);
        io.SetPin(2, true); // no new edge
        Assert.False(apic.HasInterrupt);

        io.SetPin(9, true);
        Assert.Equal(0x39, apic.Acknowledge());
        io.MmioWrite(B, 4, 0x22);
        Assert.NotEqual(0u, (uint)io.MmioRead(B + 0x10, 4) & (1u << 14)); // remote IRR
        apic.MmioWrite(L + 0xB0, 4, 0);  // EOI: level, still asserted -> again
        Assert.Equal(0x39, apic.Acknowledge());
        io.SetPin(9, false);
        apic.MmioWrite(L + 0xB0, 4, 0);
        Assert.Equal(0u, (uint)io.MmioRead(B + 0x10, 4) & (1u << 14));
        Assert.False(apic.HasInterrupt);
    }

    [Fact]
    public void IoApicMaskedPinsDoNotDeliver()
    {
        var io = new IoApic();
        int delivered = 0;
        io.Deliver = (_, _) => delivered++;
        io.SetPin(4, true);
        Assert.Equal(0, delivered);
        Assert.Equal(1UL << 16, io.RedirectionEntry(4));
    }
}
