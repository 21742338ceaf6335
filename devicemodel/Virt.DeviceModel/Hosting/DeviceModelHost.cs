using Virt.Devices.Bus;
using Virt.Shared.Abi;
using Virt.Shared.Runtime;
using Virt.Shared.Wakeup;

namespace Virt.DeviceModel.Hosting;

/// <summary>
/// IDeviceHost for devices in the device model process: IRQ lines go to the IRQ words of VCPU 0's
/// comm page (the monitor's PIC picks them up), guest memory is the shared RAM file.
/// </summary>
public sealed unsafe class DeviceModelHost(SharedRegion ram, SharedRegion comm) : IDeviceHost
{
    public TimeProvider Time { get; } = TimeProvider.System;

    public void SetIrq(int line, bool high)
    {
        if ((uint)line >= CommPageLayout.IrqLineCount) throw new ArgumentOutOfRangeException(nameof(line));
        ref IrqWords irq = ref CommPageAccess.Page(comm.Base, 0).Irq;
        uint bit = 1u << line;
        if (high)
        {
            uint old = Interlocked.Or(ref irq.Level, bit);
            if ((old & bit) != 0) return;
            Interlocked.Or(ref irq.Raised, bit);
        }
        else if ((Interlocked.And(ref irq.Level, ~bit) & bit) == 0)
        {
            return;
        }
        CommPageAccess.Page(comm.Base, 0).DeviceCounters.IrqChanges++;
        Interlocked.Increment(ref irq.Seq);
        if (Volatile.Read(ref irq.MonitorIdle) != 0)
            fixed (uint* seq = &irq.Seq) Futex.Wake(seq);
    }

    public void ReadGuest(ulong address, Span<byte> into) => Check(address, into.Length).CopyTo(into);

    public void WriteGuest(ulong address, ReadOnlySpan<byte> data) => data.CopyTo(Check(address, data.Length));

    private Span<byte> Check(ulong address, int length)
    {
        if (address > (ulong)ram.Size || (ulong)length > (ulong)ram.Size - address)
            throw new ArgumentOutOfRangeException(nameof(address), $"guest access 0x{address:X}+{length} outside RAM");
        return ram.AsSpan((long)address, length);
    }
}
