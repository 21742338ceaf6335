using System.Diagnostics;
using Virt.Monitor.Stats;
using Virt.Shared.Abi;
using Virt.Shared.Runtime;
using Virt.Shared.Wakeup;

namespace Virt.Monitor.Exits;

/// <summary>
/// The monitor's half of the exit path to the device model, for one VCPU: write the exit record,
/// cache state speculatively, ring ToDevice, wait on ToMonitor, then validate everything the
/// device model wrote before using it. The device model is untrusted: a value that fails a check
/// is refused (replaced by a safe one) and counted, and the VCPU goes on. If the device model
/// dies or stops answering, <see cref="Failed"/> is set and the exit is handed to <see cref="Lost"/>,
/// which holds the VCPU until another device model can take it (DeviceModelPort.Reissue.cs).
/// </summary>
public sealed unsafe partial class DeviceModelPort
{
    private const int MaxStateRounds = 4;

    private readonly byte* _region;
    private readonly int _vcpu;
    private readonly Doorbell _toDevice;
    private readonly Doorbell _toMonitor;
    private readonly ExitStatistics _stats;
    private readonly Func<bool> _peerAlive;
    private readonly IVcpuStateAccess? _state;
    private readonly long _timeoutTicks;
    private uint _seq;

    public DeviceModelPort(SharedRegion comm, int vcpu, WakeMode mode, int spinMicros, ExitStatistics stats,
        Func<bool> peerAlive, IVcpuStateAccess? state, StateBits speculative, TimeSpan timeout,
        System.Net.Sockets.Socket? doorbellSocket = null)
    {
        _region = comm.Base;
        _vcpu = vcpu;
        ref CommPage page = ref CommPageAccess.Page(_region, vcpu);
        fixed (DoorbellWords* toDevice = &page.ToDevice)
        fixed (DoorbellWords* toMonitor = &page.ToMonitor)
        {
            // A file mapping does not move; fixed only satisfies the compiler.
            _toDevice = new Doorbell(toDevice, mode, spinMicros, doorbellSocket);
            _toMonitor = new Doorbell(toMonitor, mode, spinMicros, doorbellSocket);
        }
        _seq = _toMonitor.Current;
        _stats = stats;
        _peerAlive = peerAlive;
        _state = state;
        Speculative = state is null ? StateBits.None : speculative & state.Savable;
        page.Header.SpeculativeState = (uint)Speculative;
        _timeoutTicks = (long)(timeout.TotalSeconds * Stopwatch.Frequency);
    }

    /// <summary>The areas cached in the page on every exit, before the device model asks (NVMM's speculative caching).</summary>
    public StateBits Speculative { get; }

    /// <summary>Why the device model stopped serving exits, once it has.</summary>
    public string? Failed { get; private set; }

    /// <summary>Set when the device model completes an exit with StopVm: the value the guest wrote.</summary>
    public uint? StopValue { get; private set; }

    /// <summary>Called on the VCPU thread after each completed exit (the monitor picks up IRQ lines the exit changed).</summary>
    public Action? Completed { get; set; }

    /// <summary>Raised on the VCPU thread when the device model completes an exit with PlatformEvent: the (unchecked) StatusArg.</summary>
    public event Action<uint>? PlatformEventRaised;

    /// <summary>Raised on the VCPU thread when the device model fails or asks to stop the VM.</summary>
    public event Action? StopNeeded;

    private static ulong Ones(int size) => size >= 8 ? ulong.MaxValue : (1UL << (8 * size)) - 1;

    public ulong PortRead(ushort port, int size) => Exchange(ExitReason.PortIo, port, size, ExitDirection.Read, 0, ExitFlags.None, 1);

    public void PortWrite(ushort port, int size, uint value) => Exchange(ExitReason.PortIo, port, size, ExitDirection.Write, value, ExitFlags.None, 1);

    public ulong MmioRead(ulong address, int size) => Exchange(ExitReason.Mmio, address, size, ExitDirection.Read, 0, ExitFlags.None, 1);

    public void MmioWrite(ulong address, int size, ulong value) => Exchange(ExitReason.Mmio, address, size, ExitDirection.Write, value, ExitFlags.None, 1);

    public void PortInString(ushort port, int size, Span<byte> data)
    {
        Span<byte> page = CommPageAccess.DataPage(_region, _vcpu);
        for (int done = 0; done < data.Length;)
        {
            int n = Math.Min(data.Length - done, page.Length) / size * size;
            if (n == 0) break;
            // Ones in the page first: what a device model that skips elements leaves is "no device".
            page[..n].Fill(0xFF);
            Exchange(ExitReason.PortIo, port, size, ExitDirection.Read, 0, ExitFlags.String | ExitFlags.Rep, (uint)(n / size));
            // After a failure Reissue has left the replacement's answer (or all ones) in this page.
            page[..n].CopyTo(data.Slice(done, n));
            done += n;
        }
    }

    public void PortOutString(ushort port, int size, ReadOnlySpan<byte> data)
    {
        Span<byte> page = CommPageAccess.DataPage(_region, _vcpu);
        for (int done = 0; done < data.Length;)
        {
            int n = Math.Min(data.Length - done, page.Length) / size * size;
            if (n == 0) break;
            data.Slice(done, n).CopyTo(page);
            Exchange(ExitReason.PortIo, port, size, ExitDirection.Write, 0, ExitFlags.String | ExitFlags.Rep, (uint)(n / size));
            done += n;
        }
    }

    /// <summary>One exit to the device model and back. Returns the (validated) read data.</summary>
    public ulong Exchange(ExitReason reason, ulong address, int size, ExitDirection direction, ulong data, ExitFlags flags, uint count)
    {
        ulong ones = Ones(size);
        if (StopValue is not null) return ones;
        if (Failed is not null) return Reissue(reason, address, size, direction, data, flags, count);
        ref CommPage page = ref CommPageAccess.Page(_region, _vcpu);
        ref ExitRecord exit = ref page.Exit;

        exit.Reason = (uint)reason;
        exit.Address = address;
        exit.Size = (byte)size;
        exit.Direction = (byte)direction;
        exit.Flags = (byte)flags;
        exit.Count = count;
        exit.Data = direction == ExitDirection.Write ? data & ones : 0;
        exit.StatusArg = 0;
        page.Header.StateCommit = 0;
        page.Header.StateWanted = 0;
        if (Speculative != StateBits.None) _state!.Save(Speculative, ref page);
        page.Header.StateCached = (uint)Speculative;

        long start = Stopwatch.GetTimestamp();
        CompletionStatus status = CompletionStatus.Unhandled;
        for (int round = 0; ; round++)
        {
            uint seq = ++_seq;
            exit.Seq = seq;
            exit.Status = (uint)CompletionStatus.Pending;
            // Read before ringing: a fast device model may complete before we start waiting.
            uint before = _toMonitor.Current;
            _toDevice.Ring(seq);
            if (!WaitDone(before, seq, start)) return Reissue(reason, address, size, direction, data, flags, count);

            // From here on every value the device model could have written is checked.
            if (exit.Reason != (uint)reason || exit.Seq != seq || exit.Address != address || exit.Size != size
                || exit.Direction != (byte)direction || exit.Flags != (byte)flags || exit.Count != count)
            {
                _stats.Refuse("exit-record-changed");
                exit.Reason = (uint)reason; exit.Address = address; exit.Size = (byte)size;
                exit.Direction = (byte)direction; exit.Flags = (byte)flags; exit.Count = count;
            }
            uint rawStatus = exit.Status;
            status = rawStatus is >= (uint)CompletionStatus.Ok and <= (uint)CompletionStatus.PlatformEvent ? (CompletionStatus)rawStatus : CompletionStatus.Pending;
            if (status == CompletionStatus.Pending)
            {
                _stats.Refuse("status");
                status = CompletionStatus.Unhandled;
            }
            if (status != CompletionStatus.NeedState) break;
            if (round >= MaxStateRounds || _state is null)
            {
                _stats.Refuse("need-state");
                status = CompletionStatus.Unhandled;
                break;
            }
            uint wanted = page.Header.StateWanted;
            if ((wanted & ~(uint)StateBits.All) != 0) _stats.Refuse("state-wanted");
            var fill = (StateBits)wanted & _state.Savable;
            _state.Save(fill, ref page);
            page.Header.StateCached |= (uint)fill;
            page.Header.StateWanted = 0;
            _stats.StateFetches++;
        }
        _stats.RoundTripLatency.Add(Stopwatch.GetTimestamp() - start);
        page.MonitorCounters.RoundTrips++;

        Commit(ref page);
        ulong result = ones;
        if (status is CompletionStatus.Ok or CompletionStatus.StopVm or CompletionStatus.PlatformEvent && direction == ExitDirection.Read)
        {
            result = exit.Data;
            if ((result & ~ones) != 0)
            {
                _stats.Refuse("data-width");
                result &= ones;
            }
        }
        if (status == CompletionStatus.StopVm)
        {
            StopValue = exit.StatusArg;
            StopNeeded?.Invoke();
        }
        if (status == CompletionStatus.PlatformEvent) PlatformEventRaised?.Invoke(exit.StatusArg);
        page.MonitorCounters.Refused = (ulong)_stats.RefusedTotal;
        Completed?.Invoke();
        return result;
    }

    private void Commit(ref CommPage page)
    {
        uint commit = page.Header.StateCommit;
        if (commit == 0) return;
        page.Header.StateCommit = 0;
        if ((commit & ~(uint)StateBits.All) != 0 || _state is null || ((StateBits)commit & ~_state.Committable) != 0)
        {
            _stats.Refuse("state-commit");
            return;
        }
        if (_state.Commit((StateBits)commit, ref page) is not null)
        {
            _stats.Refuse("state-values");
            return;
        }
        _stats.StateCommits++;
    }

    /// <summary>Waits for ToMonitor.Seq == seq. False if the device model died or hung (then <see cref="Failed"/> says why).</summary>
    private bool WaitDone(uint seen, uint seq, long start)
    {
        while (true)
        {
            uint v = seen == seq ? seq : _toMonitor.WaitWhile(seen, 50_000);
            if (v == seq) return true;
            if (v != seen)
            {
                // A completion for an exit we did not publish: refuse it and keep waiting.
                _stats.Refuse("completion-seq");
                seen = v;
                continue;
            }
            if (!_peerAlive())
            {
                Fail("the device model died");
                return false;
            }
            if (Stopwatch.GetTimestamp() - start > _timeoutTicks)
            {
                Fail($"the device model did not complete an exit within {_timeoutTicks / Stopwatch.Frequency} s");
                return false;
            }
        }
    }

    private void Fail(string why)
    {
        Failed ??= why;
        StopNeeded?.Invoke();
    }
}
