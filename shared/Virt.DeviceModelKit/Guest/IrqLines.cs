using Virt.Shared.Abi;
using Virt.Shared.Runtime;
using Virt.Shared.Wakeup;

namespace Virt.DeviceModelKit.Guest;

/// <summary>
/// The ISA interrupt lines a device model drives: the IRQ words of VCPU 0's comm page (docs/abi.md),
/// which the monitor's interrupt controller picks up. A rising edge also sets the line's Raised bit,
/// so a pulse shorter than the monitor's polling is not lost; an idle monitor is woken by futex.
/// </summary>
public sealed unsafe class IrqLines(SharedRegion comm)
{
    /// <summary>Drives line <paramref name="line"/> (0-15) high or low; nothing happens when it is already there.</summary>
    public void Set(int line, bool high)
    {
        if ((uint)line >= CommPageLayout.IrqLineCount) throw new ArgumentOutOfRangeException(nameof(line));
        ref CommPage page = ref CommPageAccess.Page(comm.Base, 0);
        ref IrqWords irq = ref page.Irq;
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
        page.DeviceCounters.IrqChanges++;
        Interlocked.Increment(ref irq.Seq);
        if (Volatile.Read(ref irq.MonitorIdle) != 0)
            fixed (uint* seq = &irq.Seq) Futex.Wake(seq);
    }
}
