using System.Diagnostics;
using Virt.Shared.Abi;
using Virt.Shared.Control;
using Virt.Shared.Routing;

namespace Virt.Monitor.Transport;

// Batched writes and cached reads (docs/io.md): writes to BatchedWrites ranges go into the OUT ring
// with no exit; INs on CachedReads ranges are answered from the device model's IN table while no
// pending write they depend on is in the ring; the ring is flushed when full, at HLT, at the end
// and by the latency timer (any other exit drains it on the way).
public sealed unsafe partial class DeviceModelPort
{
    public ulong PortRead(ushort port, int size, ClaimFlags policy = ClaimFlags.None)
    {
        if (CachedReads && (policy & ClaimFlags.CachedReads) != 0 && !Down)
        {
            switch (_table.Lookup(port, size, _ring, out uint value))
            {
                case InTableReader.Outcome.Hit:
                    _stats.CachedReadHits++;
                    CommPageAccess.Page(_region, _vcpu).MonitorCounters.CachedReadHits++;
                    return value;
                case InTableReader.Outcome.Stale:
                    // The status-after-command case (docs/abi.md, IN table): the pending writes go first, with this IN.
                    _stats.CachedReadStale++;
                    _flushReason = FlushReason.StaleRead;
                    break;
                case InTableReader.Outcome.Refused:
                    _stats.Refuse(Refusal.InTableCount);
                    _stats.CachedReadMisses++;
                    break;
                default:
                    _stats.CachedReadMisses++;
                    break;
            }
        }
        return Exchange(ExitReason.PortIo, port, size, ExitDirection.Read, 0, ExitFlags.None, 1);
    }

    public void PortWrite(ushort port, int size, uint value, ClaimFlags policy = ClaimFlags.None)
    {
        _table.NoteWrite(port, size, value);
        if (Batching && (policy & ClaimFlags.BatchedWrites) != 0) Batch(0, port, size, value);
        else Exchange(ExitReason.PortIo, port, size, ExitDirection.Write, value, ExitFlags.None, 1);
    }

    public ulong MmioRead(ulong address, int size) => Exchange(ExitReason.Mmio, address, size, ExitDirection.Read, 0, ExitFlags.None, 1);

    public void MmioWrite(ulong address, int size, ulong value, ClaimFlags policy = ClaimFlags.None)
    {
        if (Batching && (policy & ClaimFlags.BatchedWrites) != 0) Batch(1, (uint)address, size, value);
        else Exchange(ExitReason.Mmio, address, size, ExitDirection.Write, value, ExitFlags.None, 1);
    }

    private void Batch(byte space, uint address, int size, ulong value)
    {
        if (StopValue is not null) return;
        if (Failed is not null)
        {
            // Not dropped: the write waits (with the guest) for the replacement, behind the pending ones.
            Lose(space == 0 ? ExitReason.PortIo : ExitReason.Mmio, address, size, ExitDirection.Write, value & IoSize.AllOnes(size), ExitFlags.None, 1);
            return;
        }
        _ring.Append(space, address, size, value & IoSize.AllOnes(size));
        _stats.BatchedWrites++;
        CommPageAccess.Page(_region, _vcpu).MonitorCounters.BatchedWrites++;
        if (_ring.IsFull) Flush(FlushReason.Full);
    }

    /// <summary>Hands the pending batched writes to the device model now (one round trip), if there are any.</summary>
    public void Flush(FlushReason reason)
    {
        if (_ring.Pending == 0) return;
        if (StopValue is not null)
        {
            _ring.Discard();
            return;
        }
        if (Failed is not null)
        {
            Lose(ExitReason.Flush, (ulong)reason, 1, ExitDirection.Write, 0, ExitFlags.None, 1);
            return;
        }
        _flushReason = reason;
        Exchange(ExitReason.Flush, (ulong)reason, 1, ExitDirection.Write, 0, ExitFlags.None, 1);
    }

    /// <summary>The latency timer: called between slices; flushes when the oldest pending write is older than <see cref="FlushLatency"/>.</summary>
    public void FlushIfDue()
    {
        if (_ring.Pending != 0 && Stopwatch.GetTimestamp() - _ring.OldestTimestamp >= FlushLatency.TotalSeconds * Stopwatch.Frequency)
            Flush(FlushReason.Timer);
    }
}
