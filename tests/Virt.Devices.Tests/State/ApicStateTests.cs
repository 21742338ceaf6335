using Virt.Devices.Platform;
using Virt.Devices.State;
using Virt.Devices.Tests.Support;

namespace Virt.Devices.Tests.State;

/// <summary>The APICs' state moves to another APIC on another clock (a VM snapshot) with its timer's phase and pending vectors.</summary>
public class ApicStateTests
{
    private const ulong L = LocalApic.DefaultBase, Io = IoApic.DefaultBase;

    [Fact]
    public void A_local_apic_restored_on_another_clock_keeps_its_timer_phase_and_pending_vectors()
    {
        var host = new TestHost();
        var apic = new LocalApic();
        apic.Attach(host);
        apic.MmioWrite(L + 0xF0, 4, 0x1FF);
        apic.MmioWrite(L + 0x80, 4, 0x20);          // TPR
        apic.MmioWrite(L + 0x3E0, 4, 0xB);          // divide by 1
        apic.MmioWrite(L + 0x320, 4, 0x2_0031);     // periodic, vector 0x31
        apic.MmioWrite(L + 0x380, 4, 100_000);      // 1 ms
        apic.AcceptInterrupt(0x45, false);
        host.Clock.Advance(TimeSpan.FromMicroseconds(300));
        byte[] saved = apic.SaveState();

        // Another host whose clock reads something else entirely.
        var other = new TestHost(new ManualClock(startTimestamp: 987_654_321_000));
        var restored = new LocalApic();
        restored.Attach(other);
        restored.RestoreState(saved);
        Assert.Equal(apic.MmioRead(L + 0x390, 4), restored.MmioRead(L + 0x390, 4)); // the current count: 700 us left
        Assert.Equal(0x20u, (uint)restored.MmioRead(L + 0x80, 4));
        Assert.Equal(apic.NextDeadline, restored.NextDeadline);
        Assert.Equal(0x45, restored.Acknowledge());
        other.Clock.Advance(restored.NextDeadline!.Value);
        restored.Advance();
        restored.MmioWrite(L + 0xB0, 4, 0);
        Assert.Equal(0x31, restored.Acknowledge());
    }

    [Fact]
    public void An_io_apic_restores_its_redirection_table_and_a_damaged_blob_changes_nothing()
    {
        var ioapic = new IoApic();
        ioapic.MmioWrite(Io, 4, 0x10 + 2 * 2);      // IOREGSEL: pin 2, low dword
        ioapic.MmioWrite(Io + 0x10, 4, 0x0000_0030);// vector 0x30, unmasked, edge
        byte[] saved = ioapic.SaveState();

        var restored = new IoApic();
        restored.RestoreState(saved);
        Assert.Equal(ioapic.RedirectionEntry(2), restored.RedirectionEntry(2));
        Assert.Equal(0x30UL, restored.RedirectionEntry(2) & 0x1_FFFF);

        var untouched = new IoApic();
        Assert.Throws<DeviceStateException>(() => untouched.RestoreState(saved[..^3]));
        Assert.Equal(1UL << 16, untouched.RedirectionEntry(2)); // still masked, as from reset
        Assert.Throws<DeviceStateException>(() => untouched.RestoreState(new LocalApic().SaveState()));
    }
}
