using Virt.DeviceModelKit.Assist;
using Virt.DeviceModelKit.Exits;
using Virt.Devices.Bus;
using Virt.Devices.State;
using Virt.Shared.Abi;
using Virt.Shared.Control;
using Virt.Shared.Routing;

namespace Virt.DeviceModel.Hosting;

/// <summary>
/// The devices of this process, found by port or MMIO address (one <see cref="AddressMap{T}"/> per
/// space), as the exit handler of the device-model kit: it performs batched writes and published
/// exits on them, lends a port to the string I/O assist, republishes cacheable reads and keeps the
/// crash snapshot current. Device calls are serialised by <see cref="Lock"/> (the IDevice
/// contract), which the model's own threads (timers, console input) also take.
/// </summary>
public sealed unsafe class DeviceBus : IExitHandler, IPortIo
{
    private readonly AddressMap<IDevice> _ports = new();
    private readonly AddressMap<IDevice> _mmio = new();
    private readonly List<IDevice> _devices = new();
    private readonly List<CachedRead> _cachedReads = new();
    private readonly List<InTableEntry> _entries = new();
    private readonly StateWriter _stateWriter = new();

    public object Lock { get; } = new();

    public IReadOnlyList<IDevice> Devices => _devices;

    /// <summary>Exactly-once output: the access being performed, for the console to confirm before it writes (docs/abi.md "After a failure").</summary>
    public OutputConfirmation Confirmation { get; } = new();

    /// <summary>Visible output for the access being performed is about to be written (ConsoleFdSink, right before its write(2)): confirm it now.</summary>
    public void ConfirmOutput() => Confirmation.Confirm();

    /// <summary>The comm region's crash-state area (docs/abi.md), or null when the monitor offers none.</summary>
    public byte* CrashStateArea { get; set; }

    /// <summary>Where <see cref="RefreshCachedReads"/> publishes; null when the monitor did not accept the IN table.</summary>
    public InTableWriter? Table { get; set; }

    /// <summary>Set by a device (the exit port, through its callback) during an access: end the VM with this value.</summary>
    public uint? StopRequest { get; set; }

    /// <summary>Set by a device during an access (i8042 reset pulse or A20, 0xCF9): completes the exit with PlatformEvent.</summary>
    public PlatformEvent? Event { get; set; }

    public void Add(IDevice device)
    {
        foreach (BusRange r in device.Ranges)
        {
            AddressMap<IDevice> map = r.Space == AddressSpace.Port ? _ports : _mmio;
            ulong length = r.Space == AddressSpace.Port ? Math.Min(r.Length, 0x10000 - Math.Min(r.Start, 0x10000)) : r.Length;
            if (length == 0) continue;
            if (!map.TryClaim(r.Start, length, device, out AddressRange<IDevice>? other))
                throw new InvalidOperationException($"{device.Name}: {r} overlaps 0x{other!.Value.Start:X}-0x{other.Value.End - 1:X} of {other.Value.Owner.Name}");
        }
        _devices.Add(device);
    }

    /// <summary>The device at a port, or null.</summary>
    public IDevice? DeviceAtPort(ulong port) => _ports.OwnerAt(port);

    /// <summary>The device at an MMIO address, or null.</summary>
    public IDevice? DeviceAtMmio(ulong address) => _mmio.OwnerAt(address);

    public CompletionStatus Dispatch(ref ExitRecord exit, Span<byte> dataPage, out uint arg)
    {
        arg = 0;
        int size = exit.Size;
        lock (Lock)
        {
            StopRequest = null;
            Event = null;
            switch ((ExitReason)exit.Reason)
            {
                case ExitReason.PortIo:
                    {
                        if (DeviceAtPort(exit.Address) is not { } dev) return CompletionStatus.Unhandled;
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
                        if (DeviceAtMmio(exit.Address) is not { } dev) return CompletionStatus.Unhandled;
                        if (exit.Direction == (byte)ExitDirection.Read) exit.Data = dev.MmioRead(exit.Address, size);
                        else dev.MmioWrite(exit.Address, size, exit.Data);
                        break;
                    }
                default:
                    return CompletionStatus.Unhandled;
            }
            if (StopRequest is { } stop)
            {
                arg = stop;
                return CompletionStatus.StopVm;
            }
            if (Event is { } e)
            {
                arg = (uint)e;
                return CompletionStatus.PlatformEvent;
            }
            return CompletionStatus.Ok;
        }
    }

    public uint? WriteBatched(in OutRingSlot slot)
    {
        int size = slot.Size;
        lock (Lock)
        {
            StopRequest = null;
            if (slot.Space == (byte)AddressSpace.Port)
            {
                if (size is (1 or 2 or 4) && DeviceAtPort(slot.Address) is { } dev)
                    dev.PortWrite((ushort)slot.Address, size, (uint)slot.Value);
            }
            else if (size is (1 or 2 or 4 or 8) && DeviceAtMmio(slot.Address) is { } dev)
            {
                dev.MmioWrite(slot.Address, size, slot.Value);
            }
            return StopRequest;
        }
    }

    public IPortIo? PortAt(ushort port) => DeviceAtPort(port) is null ? null : this;

    uint IPortIo.PortRead(ushort port, int size) => DeviceAtPort(port) is { } d ? d.PortRead(port, size) : IoSize.AllOnes32(size);

    void IPortIo.PortWrite(ushort port, int size, uint value) => DeviceAtPort(port)?.PortWrite(port, size, value);

    public void Served(in ExitRecord exit, CompletionStatus status)
    {
        // A synchronous write may have changed a device's configuration (UART IER/LCR/MCR...): keep the
        // crash snapshot current, so a replacement after a kill starts from it (docs/abi.md, "Crash state").
        // Only writes to a device that has state to keep (not the exit port, PCI, i8042...).
        if (exit.Direction == (byte)ExitDirection.Write && (exit.Flags & (byte)ExitFlags.Assist) == 0
            && exit.Reason is (uint)ExitReason.PortIo or (uint)ExitReason.Mmio && IsStateful(exit.Reason, exit.Address))
            SnapshotForCrash();
        if (status != CompletionStatus.NeedState) RefreshCachedReads();
    }

    /// <summary>Whether the device at an exit's address keeps state (is part of a crash snapshot).</summary>
    public bool IsStateful(uint reason, ulong address) =>
        (reason == (uint)ExitReason.PortIo ? DeviceAtPort(address) : DeviceAtMmio(address)) is IStatefulDevice;

    /// <summary>
    /// Stores the devices' state in the crash-state area, for a replacement if this process is killed.
    /// Called after each synchronous write (where drivers change configuration) and before Ready.
    /// </summary>
    public void SnapshotForCrash()
    {
        if (CrashStateArea == null) return;
        lock (Lock)
        {
            // Written in place, through one reused writer: this runs after every synchronous write to a
            // stateful device, on the exit path, which allocates nothing (docs/wakeup.md). Same records,
            // in the same order, as DeviceStateTransfer.Save.
            var snapshot = new CrashState.SnapshotWriter(CrashStateArea);
            foreach (IDevice d in _devices)
            {
                if (d is not IStatefulDevice stateful) continue;
                stateful.SaveState(_stateWriter);
                if (!snapshot.Add(d.Name, _stateWriter.Written)) return;
            }
            snapshot.Publish();
        }
    }

    /// <summary>Republishes every device's cacheable reads (after each exit, and when a device changes on its own: time, input).</summary>
    public void RefreshCachedReads()
    {
        if (Table is null) return;
        lock (Lock)
        {
            _cachedReads.Clear();
            foreach (IDevice d in _devices)
                if (d is ICachedReads c) c.PublishCachedReads(_cachedReads);
            _entries.Clear();
            foreach (CachedRead r in _cachedReads)
                _entries.Add(new InTableEntry(r.Port, r.Size, r.Value, r.DependsOn, r.DependsCount, r.Keyed, r.KeyPort, r.KeyValue, r.KeyMask));
            Table.Publish(_entries);
        }
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
                            return r.Space == AddressSpace.Mmio ? f & ~ClaimFlags.CachedReads : f;
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

    /// <summary>The side-effect-free regions the devices declare (<see cref="IDeclaredRegions"/>), as claims: flags and the constant value.</summary>
    public IEnumerable<(BusRange Range, ClaimFlags Flags, uint Value, string Device)> RegionClaims()
    {
        foreach (IDevice d in _devices)
            if (d is IDeclaredRegions declared)
                foreach (DeclaredRegion r in declared.Regions)
                    yield return (r.Range, r.Kind == RegionKind.SharedMemory ? ClaimFlags.SharedMemory : ClaimFlags.Constant, r.Value, d.Name);
    }
}
