using Virt.DeviceModel.Exits;
using Virt.Devices.Bus;
using Virt.Shared.Abi;
using Virt.Shared.Control;

namespace Virt.DeviceModel.Hosting;

/// <summary>
/// The devices of this process, found by port or MMIO address; dispatches published exits to
/// them. Device calls are serialised by <see cref="Lock"/> (the IDevice contract), which the
/// console input thread also takes.
/// </summary>
public sealed unsafe class DeviceBus : IExitDispatcher
{
    // Exactly-once output (docs/abi.md "After a failure"): while an exit or a ring slot is being
    // performed, the page to confirm it in. The console sink calls ConfirmOutput right before each
    // byte's write, so a process killed after it has already told the monitor not to replay it.
    private CommPage* _confirmPage;
    private uint _confirmSlot;
    private const uint ConfirmTheExit = uint.MaxValue;

    /// <summary>
    /// Visible output for the access being performed is about to be written (ConsoleFdSink, right before its
    /// write(2)): confirm the access in the comm page now (the ring slot's Drained, or the exit's Status = Ok).
    /// </summary>
    public void ConfirmOutput()
    {
        CommPage* page = _confirmPage;
        if (page == null) return;
        if (_confirmSlot == ConfirmTheExit) Volatile.Write(ref page->Exit.Status, (uint)CompletionStatus.Ok);
        else Volatile.Write(ref page->OutRing.Drained, _confirmSlot + 1);
    }

    /// <summary>The comm region's crash-state area (docs/abi.md), or null when the monitor offers none.</summary>
    public byte* CrashStateArea { get; set; }

    /// <summary>
    /// Stores the devices' state in the crash-state area, for a replacement if this process is killed.
    /// Called after each synchronous write (where drivers change configuration) and before Ready.
    /// </summary>
    public void SnapshotForCrash()
    {
        if (CrashStateArea == null) return;
        lock (Lock)
            CrashState.Write(CrashStateArea, Devices.OfType<Virt.Devices.State.IStatefulDevice>()
                .Select(d => new DeviceState(((IDevice)d).Name, d.SaveState())).ToList());
    }

    /// <summary>The exit in <paramref name="page"/> is being dispatched (until <see cref="EndExit"/>): output confirms it.</summary>
    public void BeginExit(ref CommPage page)
    {
        _confirmPage = (CommPage*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref page);
        _confirmSlot = ConfirmTheExit;
    }

    public void EndExit() => _confirmPage = null;

    private readonly IDevice?[] _ports = new IDevice?[0x10000];
    private readonly List<(BusRange Range, IDevice Device)> _mmio = new();
    private readonly List<IDevice> _devices = new();

    public object Lock { get; } = new();

    public IReadOnlyList<IDevice> Devices => _devices;

    public void Add(IDevice device)
    {
        foreach (BusRange r in device.Ranges)
        {
            if (r.Space == BusSpace.Port)
            {
                for (ulong p = r.Start; p < r.End && p < 0x10000; p++)
                {
                    if (_ports[p] is { } other) throw new InvalidOperationException($"{device.Name}: port 0x{p:X} already belongs to {other.Name}");
                    _ports[p] = device;
                }
            }
            else
            {
                _mmio.Add((r, device));
            }
        }
        _devices.Add(device);
    }

    public CompletionStatus Dispatch(ref ExitRecord exit, Span<byte> dataPage, out uint stopArg)
    {
        stopArg = 0;
        int size = exit.Size;
        lock (Lock)
        {
            StopRequest = null;
            Event = null;
            switch ((ExitReason)exit.Reason)
            {
                case ExitReason.PortIo:
                {
                    if (exit.Address > 0xFFFF || _ports[exit.Address] is not { } dev) return CompletionStatus.Unhandled;
                    ushort port = (ushort)exit.Address;
                    bool isString = (exit.Flags & (byte)ExitFlags.String) != 0;
                    int count = isString ? (int)Math.Min(exit.Count, (uint)(dataPage.Length / Math.Max(size, 1))) : 1;
                    if (size is not (1 or 2 or 4)) return CompletionStatus.Unhandled;
                    if (exit.Direction == (byte)ExitDirection.Read)
                    {
                        if (!isString) exit.Data = dev.PortRead(port, size);
                        else
                            for (int i = 0; i < count; i++)
                            {
                                uint v = dev.PortRead(port, size);
                                for (int b = 0; b < size; b++) dataPage[i * size + b] = (byte)(v >> (8 * b));
                            }
                    }
                    else if (!isString) dev.PortWrite(port, size, (uint)exit.Data);
                    else
                        for (int i = 0; i < count; i++)
                        {
                            uint v = 0;
                            for (int b = 0; b < size; b++) v |= (uint)dataPage[i * size + b] << (8 * b);
                            dev.PortWrite(port, size, v);
                        }
                    break;
                }
                case ExitReason.Mmio:
                {
                    IDevice? dev = null;
                    foreach (var (range, d) in _mmio)
                        if (range.Contains(exit.Address)) { dev = d; break; }
                    if (dev is null) return CompletionStatus.Unhandled;
                    if (exit.Direction == (byte)ExitDirection.Read) exit.Data = dev.MmioRead(exit.Address, size);
                    else dev.MmioWrite(exit.Address, size, exit.Data);
                    break;
                }
                default:
                    return CompletionStatus.Unhandled;
            }
            if (StopRequest is { } stop)
            {
                stopArg = stop;
                return CompletionStatus.StopVm;
            }
            if (Event is { } e)
            {
                stopArg = (uint)e;
                return CompletionStatus.PlatformEvent;
            }
            return CompletionStatus.Ok;
        }
    }

    /// <summary>The device at a port, or null.</summary>
    public IDevice? DeviceAtPort(ulong port) => port <= 0xFFFF ? _ports[port] : null;

    /// <summary>Whether the device at an exit's address keeps state (is part of a crash snapshot).</summary>
    public bool IsStateful(uint reason, ulong address)
    {
        if (reason == (uint)ExitReason.PortIo) return DeviceAtPort(address) is Virt.Devices.State.IStatefulDevice;
        foreach (var (range, d) in _mmio)
            if (range.Contains(address)) return d is Virt.Devices.State.IStatefulDevice;
        return false;
    }

    /// <summary>Where <see cref="RefreshCachedReads"/> publishes; null when the monitor did not accept the IN table.</summary>
    public InTableWriter? Table { get; set; }

    private readonly List<CachedRead> _cachedReads = new();

    /// <summary>Republishes every device's cacheable reads (after each exit, and when a device changes on its own: time, input).</summary>
    public void RefreshCachedReads()
    {
        if (Table is null) return;
        lock (Lock)
        {
            _cachedReads.Clear();
            foreach (IDevice d in _devices)
                if (d is ICachedReads c) c.PublishCachedReads(_cachedReads);
            Table.Publish(_cachedReads);
        }
    }

    /// <summary>
    /// Performs the batched writes of the OUT ring not yet performed, in order (before the exit that
    /// carried them is served). Returns the exit port's value if one of them asked to stop the VM.
    /// </summary>
    public uint? Drain(ref CommPage page)
    {
        uint pending = Math.Min(page.OutRing.Pending, CommPageLayout.OutRingSlots);
        uint done = Math.Min(page.OutRing.Drained, pending);
        if (done == pending) return null;
        uint? stop = null;
        lock (Lock)
        {
            // The comm page lives in shared memory, never moved by the GC: a pointer to it is stable.
            _confirmPage = (CommPage*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref page);
            for (uint i = done; i < pending; i++)
            {
                _confirmSlot = i;
                ref OutRingSlot slot = ref CommPageAccess.RingSlot(ref page, (int)i);
                int size = slot.Size;
                StopRequest = null;
                if (slot.Space == (byte)BusSpace.Port)
                {
                    if (size is (1 or 2 or 4) && slot.Address <= 0xFFFF && _ports[slot.Address] is { } dev)
                        dev.PortWrite((ushort)slot.Address, size, (uint)slot.Value);
                }
                else if (size is (1 or 2 or 4 or 8))
                {
                    foreach (var (range, d) in _mmio)
                        if (range.Contains(slot.Address)) { d.MmioWrite(slot.Address, size, slot.Value); break; }
                }
                stop ??= StopRequest;
                // Confirmed one by one, right after each side effect: if this process dies mid-drain the
                // monitor hands its replacement only the slots not yet confirmed (exactly-once output).
                Volatile.Write(ref page.OutRing.Drained, i + 1);
            }
            _confirmPage = null;
        }
        page.DeviceCounters.BatchedWritesDrained += pending - done;
        page.OutRing.Drained = pending;
        return stop;
    }

    /// <summary>
    /// The claims to make: every device range, split where the device declares policies, with the
    /// policy as claim flags (masked by what the monitor accepted; MMIO reads are never cached).
    /// </summary>
    public IEnumerable<(BusRange Range, ClaimFlags Flags, string Device)> Claims(ClaimFlags allowed)
    {
        foreach (IDevice d in _devices)
        {
            IReadOnlyList<RangePolicy> policies = d is IAccessPolicies p ? p.Policies : [];
            foreach (BusRange r in d.Ranges)
            {
                ClaimFlags FlagsAt(ulong a)
                {
                    foreach (RangePolicy rp in policies)
                        if (rp.Range.Space == r.Space && rp.Range.Contains(a))
                        {
                            var f = (ClaimFlags)(uint)rp.Policy & allowed;
                            return r.Space == BusSpace.Mmio ? f & ~ClaimFlags.CachedReads : f;
                        }
                    return ClaimFlags.None;
                }
                // Cut the range where the policy changes (policy ranges are few and small).
                var cuts = new SortedSet<ulong> { r.Start, r.End };
                foreach (RangePolicy rp in policies)
                {
                    if (rp.Range.Space != r.Space) continue;
                    if (r.Contains(rp.Range.Start)) cuts.Add(rp.Range.Start);
                    if (r.Contains(rp.Range.End)) cuts.Add(rp.Range.End);
                }
                ulong start = r.Start;
                ClaimFlags current = FlagsAt(start);
                foreach (ulong cut in cuts)
                {
                    if (cut <= start) continue;
                    ClaimFlags next = cut < r.End ? FlagsAt(cut) : ClaimFlags.None;
                    if (cut < r.End && next == current) continue;
                    yield return (new BusRange(r.Space, start, cut - start), current, d.Name);
                    start = cut;
                    current = next;
                }
            }
        }
    }

    /// <summary>Set by a device (the exit port, through its callback) during a dispatch: end the VM with this value.</summary>
    public uint? StopRequest { get; set; }

    /// <summary>Set by a device during a dispatch (i8042 reset pulse or A20, 0xCF9): completes the exit with PlatformEvent.</summary>
    public PlatformEvent? Event { get; set; }
}
