using Virt.Monitor.Stats;
using Virt.Shared.Abi;
using Virt.Shared.Runtime;
using Virt.Shared.Wakeup;

namespace Virt.Monitor.Transport;

/// <summary>
/// Takes the IRQ lines the device model drives through VCPU 0's IRQ words and feeds them to the
/// monitor's interrupt controller. Bits past line 15 are refused and counted. A rising edge that
/// fell again before this poll (the Raised word) is still delivered as an edge.
/// </summary>
public sealed unsafe class IrqLineInput
{
    private readonly byte* _region;
    private readonly ExitStatistics _stats;
    private readonly Action<int, bool> _setIrq;
    private uint _lastSeq;
    private uint _delivered;

    public IrqLineInput(SharedRegion comm, ExitStatistics stats, Action<int, bool> setIrq)
    {
        _region = comm.Base;
        _stats = stats;
        _setIrq = setIrq;
    }

    private ref IrqWords Words => ref CommPageAccess.Page(_region, 0).Irq;

    /// <summary>Cheap when nothing changed (one load). Call on the VCPU thread only.</summary>
    public void Poll()
    {
        ref IrqWords irq = ref Words;
        uint seq = Volatile.Read(ref irq.Seq);
        if (seq == _lastSeq) return;
        _lastSeq = seq;
        uint raised = Interlocked.Exchange(ref irq.Raised, 0);
        uint level = Volatile.Read(ref irq.Level);
        if (((raised | level) & ~CommPageLayout.IrqLineMask) != 0)
        {
            _stats.Refuse(Refusal.IrqLines);
            raised &= CommPageLayout.IrqLineMask;
            level &= CommPageLayout.IrqLineMask;
        }
        uint changed = (level ^ _delivered) | raised;
        for (int line = 0; changed != 0; line++, changed >>= 1)
        {
            if ((changed & 1) == 0) continue;
            uint bit = 1u << line;
            bool now = (level & bit) != 0;
            if ((raised & bit) != 0)
            {
                // A new edge even if the line is already (or again) low: lower, raise, then settle.
                if ((_delivered & bit) != 0) _setIrq(line, false);
                _setIrq(line, true);
                _stats.IrqEdges++;
                if (!now) _setIrq(line, false);
            }
            else
            {
                _setIrq(line, now);
            }
            _delivered = now ? _delivered | bit : _delivered & ~bit;
        }
    }

    /// <summary>Sleeps until the device model changes an IRQ line or the timeout passes (a halted VCPU).</summary>
    public void WaitForChange(long timeoutMicros)
    {
        ref IrqWords irq = ref Words;
        Interlocked.Exchange(ref irq.MonitorIdle, 1);
        uint seq = Volatile.Read(ref irq.Seq);
        if (seq == _lastSeq)
            fixed (uint* p = &irq.Seq) Futex.Wait(p, seq, timeoutMicros);
        Volatile.Write(ref irq.MonitorIdle, 0);
    }

    /// <summary>Wakes a VCPU sleeping in <see cref="WaitForChange"/> (from another monitor thread).</summary>
    public void Kick()
    {
        ref IrqWords irq = ref Words;
        Interlocked.Increment(ref irq.Seq);
        fixed (uint* p = &irq.Seq) Futex.Wake(p);
    }
}
