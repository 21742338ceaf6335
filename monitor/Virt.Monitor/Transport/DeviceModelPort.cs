using System.Diagnostics;
using Virt.Cpu.Exits;
using Virt.Monitor.Stats;
using Virt.Shared.Abi;
using Virt.Shared.Routing;
using Virt.Shared.Runtime;
using Virt.Shared.Wakeup;

namespace Virt.Monitor.Transport;

/// <summary>
/// The monitor's half of the exit path to the device model, for one VCPU: write the exit record,
/// cache state speculatively, ring ToDevice, wait on ToMonitor, then validate everything the
/// device model wrote before using it. The device model is untrusted: a value that fails a check
/// is refused (replaced by a safe one) and counted, and the VCPU goes on. If the device model
/// dies or stops answering, <see cref="Failed"/> is set and the exit is handed to <see cref="Lost"/>,
/// which holds the VCPU until another device model can take it (DeviceModelPort.Reissue.cs).
/// Batched writes and cached reads are in DeviceModelPort.Batching.cs, the string I/O assist in
/// DeviceModelPort.Assist.cs (docs/io.md).
/// </summary>
public sealed unsafe partial class DeviceModelPort
{
    private const int MaxStateRounds = 4;

    /// <summary>One round trip in this many is stamped by the device model and split (ExitRecord.SeenAt).</summary>
    public const int StampInterval = 8;

    private readonly byte* _region;
    private readonly int _vcpu;
    private readonly Doorbell _toDevice;
    private readonly Doorbell _toMonitor;
    private readonly ExitStatistics _stats;
    private readonly Func<bool> _peerAlive;
    private readonly IVcpuStateAccess? _state;
    private readonly long _timeoutTicks;
    private readonly OutRingWriter _ring;
    private readonly InTableReader _table;
    // Scratch for the registers before an assisted string exit and the ones it must leave.
    private readonly CommPage[] _scratch = new CommPage[1];
    private uint _seq;
    private long _roundTrips;
    private FlushReason? _flushReason;
    private CompletionStatus _lastStatus;
    private StringIoAssist? _assist;
    private bool _assistCommitted;

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
            _toMonitor = new Doorbell(toMonitor, mode, spinMicros, doorbellSocket, peerWords: toDevice);
        }
        _seq = _toMonitor.Current;
        _stats = stats;
        _peerAlive = peerAlive;
        _state = state;
        Speculative = state is null ? StateBits.None : speculative & state.Savable;
        page.Header.SpeculativeState = (uint)Speculative;
        _timeoutTicks = (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        _ring = new OutRingWriter(_region, vcpu);
        _table = new InTableReader(_region, vcpu);
        _ring.Discard();
    }

    /// <summary>The areas cached in the page on port I/O exits, before the device model asks (NVMM's speculative caching).</summary>
    public StateBits Speculative { get; }

    /// <summary>The areas cached on MMIO exits. The interpreter has decoded the access, so the device model needs none (docs/io.md).</summary>
    public StateBits SpeculativeMmio { get; init; }

    /// <summary>Honour BatchedWrites claims (`--io batched` and the device model accepted the ring).</summary>
    public bool Batching { get; init; }

    /// <summary>Honour CachedReads claims (`--io batched` and the device model accepted the IN table).</summary>
    public bool CachedReads { get; init; }

    /// <summary>REP INS/OUTS go out as assisted exits (the device model moves the data through guest RAM).</summary>
    public bool StringAssist { get; init; }

    /// <summary>The latency bound of a batched write: older ones are flushed at the next <see cref="FlushIfDue"/>.</summary>
    public TimeSpan FlushLatency { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>Guest-physical ranges the device model says it wrote (the monitor drops decoded code there).</summary>
    public Action<uint, uint>? RamWritten { get; set; }

    /// <summary>Batched writes waiting in the ring.</summary>
    public int PendingWrites => _ring.Pending;

    /// <summary>The doorbell the monitor waits on for completions (its adaptive policy is observable).</summary>
    public Doorbell ToMonitor => _toMonitor;

    /// <summary>Why the device model stopped serving exits, once it has.</summary>
    public string? Failed { get; private set; }

    /// <summary>Set when the device model completes an exit with StopVm: the value the guest wrote.</summary>
    public uint? StopValue { get; private set; }

    /// <summary>The exit that carried the StopVm (the exit port's address), with <see cref="StopValue"/>.</summary>
    public (ExitReason Reason, ulong Address) StopExit { get; private set; }

    /// <summary>
    /// Whether an exit at this address may complete with StopVm or PlatformEvent: the address lies in a
    /// range this device model claimed with PlatformEvents. Null: none may.
    /// </summary>
    public Func<ExitReason, ulong, bool>? MayRaisePlatformEvents { get; set; }

    /// <summary>Called on the VCPU thread after each completed exit (the monitor picks up IRQ lines the exit changed).</summary>
    public Action? Completed { get; set; }

    /// <summary>Raised on the VCPU thread when the device model completes an exit with PlatformEvent: the (unchecked) StatusArg.</summary>
    public event Action<uint>? PlatformEventRaised;

    /// <summary>Raised on the VCPU thread when the device model fails or asks to stop the VM.</summary>
    public event Action? StopNeeded;

    private bool Down => Failed is not null || StopValue is not null;

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
        _table.ForgetWrite(port, size);
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
    public ulong Exchange(ExitReason reason, ulong address, int size, ExitDirection direction, ulong data, ExitFlags flags, uint count, byte segment = 0)
    {
        ulong ones = IoSize.AllOnes(size);
        _lastStatus = CompletionStatus.Unhandled;
        if (StopValue is not null)
        {
            _ring.Discard();
            return ones;
        }
        if (Failed is not null) return Lose(reason, address, size, direction, data, flags, count);
        ref CommPage page = ref CommPageAccess.Page(_region, _vcpu);
        ref ExitRecord exit = ref page.Exit;

        exit.Reason = (uint)reason;
        exit.Address = address;
        exit.Size = (byte)size;
        exit.Direction = (byte)direction;
        exit.Flags = (byte)flags;
        exit.Segment = segment;
        exit.Count = count;
        exit.Data = direction == ExitDirection.Write ? data & ones : 0;
        exit.StatusArg = 0;
        page.Header.StateCommit = 0;
        page.Header.StateWanted = 0;
        page.RamWrites.Count = 0;
        page.OutRing.Drained = 0; // whatever a device model left there, this exit's drain starts at slot 0
        page.OutRing.Pending = (uint)_ring.Pending;
        StateBits speculative = reason switch
        {
            ExitReason.PortIo => Speculative,
            ExitReason.Mmio => SpeculativeMmio & (_state?.Savable ?? StateBits.None),
            _ => StateBits.None,
        };
        if (speculative != StateBits.None) _state!.Save(speculative, ref page);
        page.Header.StateCached = (uint)speculative;
        int draining = _ring.Pending;
        FlushReason flushReason = _flushReason ?? FlushReason.SyncAccess;
        _flushReason = null;

        long allocated = GC.GetAllocatedBytesForCurrentThread();
        int collections = GC.CollectionCount(0);
        long start = Stopwatch.GetTimestamp();
        CompletionStatus status = CompletionStatus.Unhandled;
        int stateRounds = 0;
        for (int round = 0; ; round++)
        {
            uint seq = ++_seq;
            exit.Seq = seq;
            exit.Status = (uint)CompletionStatus.Pending;
            // One round trip in StampInterval asks the device model for its stamps: a clock read costs
            // 40-70 ns on the machines measured, and four of them doubled a spinning round trip (docs/wakeup.md).
            bool stamp = ++_roundTrips % StampInterval == 0;
            exit.SeenAt = stamp ? ExitRecord.StampRequested : 0;
            exit.CompletedAt = 0;
            // Read before ringing: a fast device model may complete before we start waiting.
            uint before = _toMonitor.Current;
            long rang = stamp ? Stopwatch.GetTimestamp() : 0;
            bool deviceModelWasAsleep = _toDevice.Ring(seq);
            _stats.RoundTrips++;
            page.MonitorCounters.RoundTrips++;
            if (!WaitDone(before, seq, start, !deviceModelWasAsleep)) return LoseInFlight(ref page, seq, reason, address, size, direction, data, flags, count);
            if (stamp) Split(rang, exit.SeenAt, exit.CompletedAt, Stopwatch.GetTimestamp());

            // From here on every value the device model could have written is checked.
            if (exit.Reason != (uint)reason || exit.Seq != seq || exit.Address != address || exit.Size != size
                || exit.Direction != (byte)direction || exit.Flags != (byte)flags || exit.Count != count || exit.Segment != segment)
            {
                _stats.Refuse(Refusal.ExitRecordChanged);
                exit.Reason = (uint)reason; exit.Address = address; exit.Size = (byte)size;
                exit.Direction = (byte)direction; exit.Flags = (byte)flags; exit.Count = count; exit.Segment = segment;
            }
            uint rawStatus = exit.Status;
            status = rawStatus is >= (uint)CompletionStatus.Ok and <= (uint)CompletionStatus.PlatformEvent ? (CompletionStatus)rawStatus : CompletionStatus.Pending;
            if (status == CompletionStatus.Pending)
            {
                _stats.Refuse(Refusal.Status);
                status = CompletionStatus.Unhandled;
            }
            if (status is CompletionStatus.StopVm or CompletionStatus.PlatformEvent && !(MayRaisePlatformEvents?.Invoke(reason, address) ?? false))
            {
                // Only a range claimed with PlatformEvents by this device model (its exit port, i8042,
                // reset control) may end or reset the VM: anything else is an ordinary completion.
                _stats.Refuse(Refusal.PlatformEvent);
                status = CompletionStatus.Ok;
            }
            if (status != CompletionStatus.NeedState) break;
            if (round >= MaxStateRounds || _state is null)
            {
                _stats.Refuse(Refusal.NeedState);
                status = CompletionStatus.Unhandled;
                break;
            }
            // A NeedState round may carry a commit (setstate as its own round trip, `--state naive`).
            bool committed = page.Header.StateCommit != 0;
            if (committed) Commit(ref page);
            uint wanted = page.Header.StateWanted;
            if ((wanted & ~(uint)StateBits.All) != 0) _stats.Refuse(Refusal.StateWanted);
            var fill = (StateBits)wanted & _state.Savable;
            _state.Save(fill, ref page);
            page.Header.StateCached |= (uint)fill;
            page.Header.StateWanted = 0;
            if (fill != StateBits.None)
            {
                _stats.StateFetches++;
                page.MonitorCounters.StateFetches++;
                stateRounds++;
            }
            else if (committed)
            {
                _stats.CommitRoundTrips++;
            }
        }
        _lastStatus = status;
        _stats.RoundTripLatency.Add(Stopwatch.GetTimestamp() - start);
        // A collection (any generation counts in gen 0's) while this exit was out: its pause is in this round trip.
        if (GC.CollectionCount(0) != collections) _stats.RoundTripsSpanningGc++;

        if (draining > 0)
        {
            _stats.Flushed(flushReason);
            int missing = _ring.Complete();
            if (missing > 0) _stats.Refuse(Refusal.RingDrained);
        }
        if (_assist is not null && stateRounds == 0 && status is CompletionStatus.Ok)
        {
            _stats.StateServedFromPage++;
            page.MonitorCounters.StateServedFromPage++;
        }
        ReportRamWrites(ref page);
        if (_assist is null || status is CompletionStatus.Ok or CompletionStatus.StopVm) Commit(ref page);
        else page.Header.StateCommit = 0;
        ulong result = ones;
        if (status is CompletionStatus.Ok or CompletionStatus.StopVm or CompletionStatus.PlatformEvent && direction == ExitDirection.Read && (flags & ExitFlags.String) == 0)
        {
            result = exit.Data;
            if ((result & ~ones) != 0)
            {
                _stats.Refuse(Refusal.DataWidth);
                result &= ones;
            }
        }
        if (status == CompletionStatus.StopVm)
        {
            StopExit = (reason, address);
            StopValue = exit.StatusArg;
            StopNeeded?.Invoke();
        }
        if (status == CompletionStatus.PlatformEvent) PlatformEventRaised?.Invoke(exit.StatusArg);
        page.MonitorCounters.Refused = (ulong)_stats.RefusedTotal;
        _stats.ExitPathAllocatedBytes += GC.GetAllocatedBytesForCurrentThread() - allocated;
        Completed?.Invoke();
        return result;
    }

    /// <summary>
    /// Splits one round trip with the device model's stamps (one clock: Stopwatch is CLOCK_MONOTONIC in
    /// both processes). The stamps are the device model's word, used for nothing but these figures:
    /// missing (0, a model that predates them) or out of order, the round trip is left out of the split.
    /// </summary>
    private void Split(long rang, long seenAt, long completedAt, long seen)
    {
        if (seenAt < rang || completedAt < seenAt || seen < completedAt) return;
        _stats.ToDeviceLatency.Add(seenAt - rang);
        _stats.ServiceLatency.Add(completedAt - seenAt);
        _stats.BackLatency.Add(seen - completedAt);
    }

    /// <summary>Drops decoded guest code where the device model wrote RAM (its writes bypass the monitor's tracking).</summary>
    private void ReportRamWrites(ref CommPage page)
    {
        uint n = page.RamWrites.Count;
        if (n == 0 || RamWritten is null) return;
        if (n > CommPageLayout.RamWriteSlots)
        {
            RamWritten(0, uint.MaxValue); // more than the log holds: everything
            return;
        }
        for (int i = 0; i < (int)n; i++)
        {
            ref RamWriteSlot w = ref CommPageAccess.RamWrite(ref page, i);
            RamWritten(w.Address, w.Length);
        }
    }

    private void Commit(ref CommPage page)
    {
        uint commit = page.Header.StateCommit;
        if (commit == 0) return;
        page.Header.StateCommit = 0;
        if ((commit & ~(uint)StateBits.All) != 0 || _state is null || ((StateBits)commit & ~_state.Committable) != 0)
        {
            _stats.Refuse(Refusal.StateCommit);
            return;
        }
        if (_assist is { } chunk)
        {
            // An assisted string instruction may only move ECX and ESI/EDI, and only by what it did.
            ref GprArea expected = ref _scratch[0].Gprs;
            GprArea want = expected;
            ExpectedAfter(chunk, ref want);
            ref GprArea got = ref page.Gprs;
            if ((StateBits)commit != StateBits.Gprs || got.Eax != want.Eax || got.Ecx != want.Ecx || got.Edx != want.Edx
                || got.Ebx != want.Ebx || got.Esp != want.Esp || got.Ebp != want.Ebp || got.Esi != want.Esi
                || got.Edi != want.Edi || got.Eflags != want.Eflags)
                return; // TryAssistString refuses it and completes the registers itself
        }
        if (_state.Commit((StateBits)commit, ref page) is not null)
        {
            _stats.Refuse(Refusal.StateValues);
            return;
        }
        if (_assist is not null) _assistCommitted = true;
        _stats.StateCommits++;
    }

    /// <summary>Waits for ToMonitor.Seq == seq. False if the device model died or hung (then <see cref="Failed"/> says why).</summary>
    /// <param name="peerRunning">False when the device model slept when we rang (adaptive: its answer is a wake-up away, do not spin for it).</param>
    private bool WaitDone(uint seen, uint seq, long start, bool peerRunning)
    {
        while (true)
        {
            uint v = seen == seq ? seq : _toMonitor.WaitWhile(seen, 50_000, peerRunning);
            if (v == seq) return true;
            if (v != seen)
            {
                // A completion for an exit we did not publish: refuse it and keep waiting.
                _stats.Refuse(Refusal.CompletionSeq);
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
