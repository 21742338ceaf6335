using Virt.Devices.Bus;
using static Virt.Devices.Serial.UartRegisters;

namespace Virt.Devices.Serial;

// Access policy. THR/DLL (base+0) writes are batched: transmission is instantaneous here, so a byte
// that waits in the host's ring only reaches the sink later (bounded by the latency timer) and the
// guest cannot tell. Its reads (RBR) pop the receive FIFO and stay synchronous. IER, IIR/FCR, LCR
// and MCR change interrupts and modes (an IIR read acknowledges THRE) and stay synchronous, as does
// MSR (a read clears the deltas). LSR is cached: a read has no side effect unless an error bit is
// set, and then no value is published. SCR is plain storage: batched and cached.
public sealed partial class Uart16550 : IAccessPolicies, ICachedReads
{
    public IReadOnlyList<RangePolicy> Policies =>
    [
        new(BusRange.Ports((ushort)(_base + Thr), 1), AccessPolicy.BatchedWrites),
        new(BusRange.Ports((ushort)(_base + Lsr), 1), AccessPolicy.CachedReads),
        new(BusRange.Ports((ushort)(_base + 7), 1), AccessPolicy.BatchedWrites | AccessPolicy.CachedReads),
    ];

    public void PublishCachedReads(List<CachedRead> into)
    {
        ushort lsr = (ushort)(_base + Lsr);
        if ((_lsr & (LsrErrors | LsrFifoError)) == 0)
        {
            // A THR write leaves LSR as it is now when the transmitter is idle and not looped back
            // (the byte leaves at once and THRE/TEMT come back): then only writes to the other
            // registers make this value stale. Otherwise THR writes do too.
            bool thrNeutral = !IsLoopback && !_transmitterPaused && (_lsr & (LsrThre | LsrTemt)) == (LsrThre | LsrTemt);
            ushort from = (ushort)(_base + (thrNeutral ? 1 : 0));
            into.Add(new CachedRead(lsr, 1, _lsr, from, (ushort)(_base + 8 - from)));
        }
        ushort scr = (ushort)(_base + 7);
        into.Add(new CachedRead(scr, 1, _scr, scr, 1));
    }
}
