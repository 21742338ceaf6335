using System.Diagnostics.CodeAnalysis;
using Virt.Cpu.Exits;
using Virt.Cpu.Memory;
using Virt.Devices.Bus;
using Virt.Monitor.Logging;
using Virt.Monitor.Stats;
using Virt.Shared.Abi;
using Virt.Shared.Routing;

namespace Virt.Monitor.Routing;

/// <summary>
/// The monitor's exit handler: maps each port and MMIO address to a device hosted in the monitor
/// (a direct call on the VCPU thread) or to the device model that claimed it (a round trip through
/// that device model's own comm page). Unclaimed accesses read as all ones and drop writes, as on
/// an ISA bus with nothing there, and are counted (<see cref="UnclaimedAccesses"/>).
/// Claims are made at any time (a device model attaching) but only routed to once
/// <see cref="Publish"/> puts them in the routing table, which the VM does with the VCPU paused
/// at an instruction boundary.
/// </summary>
public sealed class ExitRouter : IExitHandler
{
    // A bound on what device models can make the monitor hold (claims are kept until their model goes).
    private const int MaxClaims = ushort.MaxValue - 1;

    // Every claim made, routed or pending, in the order made (for reports); the same claims by
    // address, one map per space, for the overlap check.
    private readonly List<BusClaim> _claims = new();
    private readonly AddressMap<BusClaim> _claimedPorts = new();
    private readonly AddressMap<BusClaim> _claimedMmio = new();
    // A restore's device-model ranges whose models are still starting (AwaitDeviceModel): routed where no claim is.
    private readonly List<BusClaim> _awaited = new();
    private readonly ExitStatistics _stats;
    private volatile RoutingTable _table = RoutingTable.Empty;
    private long _unclaimed;

    public ExitRouter(ExitStatistics stats) => _stats = stats;

    // -d exits and -d guest_errors: null unless the item is on, so the exit path pays one null check.
    private readonly GuestLog? _exitLog, _errorLog;

    /// <summary>The -d log: exits logs every access below, guest_errors the unclaimed ones.</summary>
    public GuestLog? Log
    {
        init
        {
            _exitLog = value?.For(GuestLogItems.Exits);
            _errorLog = value?.For(GuestLogItems.GuestErrors);
        }
    }

    private void LogAccess(string space, ulong address, int size, bool read, ulong value, BusClaim? claim, bool isString = false)
    {
        string what = $"{(read ? "read" : "write")} {space} 0x{address:x} size {size}{(isString ? " (string)" : $" value 0x{value:x}")}";
        _exitLog?.Write(GuestLogItems.Exits, $"{what} -> {(claim is null ? "unclaimed" : claim.Owner)}");
        if (claim is null) _errorLog?.Write(GuestLogItems.GuestErrors, $"{what}: nobody claims it ({(read ? "reads as all ones" : "dropped")})");
    }

    /// <summary>Every claim made, routed or not yet, in the order made.</summary>
    public IReadOnlyList<BusClaim> Claims
    {
        get { lock (_claims) return _claims.ToArray(); }
    }

    /// <summary>RAM size: MMIO claims inside RAM are refused.</summary>
    public ulong RamSize { get; init; }

    /// <summary>Guest accesses nobody claimed (read as all ones / dropped).</summary>
    public long UnclaimedAccesses => Interlocked.Read(ref _unclaimed);

    /// <summary>Hosts a device in the monitor: its ranges are claimed for it and routed at once.</summary>
    public void AddLocal(IDevice device)
    {
        foreach (BusRange r in device.Ranges)
            if (!TryClaim(new BusClaim(r, device.Name, device), out ClaimRefusal? refusal)) throw new InvalidOperationException(refusal.Message);
        Publish(_ => true);
    }

    /// <summary>
    /// Enters a claim (a device's range, with the device model's access policy) unless it is refused,
    /// checked against every claim, routed or pending. Routed on the next <see cref="Publish"/>.
    /// </summary>
    public bool TryClaim(BusClaim claim, [NotNullWhen(false)] out ClaimRefusal? refusal)
    {
        BusRange range = claim.Range;
        lock (_claims)
        {
            AddressRange<BusClaim>? conflict = null;
            ClaimRefusalReason? reason = RangeRefusal(range, claim.IsSharedMemory);
            if (reason is null && !ClaimedIn(range.Space).TryClaim(range.Start, range.Length, claim, out conflict))
                reason = ClaimRefusalReason.Overlap;
            if (reason is { } r)
            {
                refusal = new ClaimRefusal(r, range, claim.Device, claim.Policy, conflict?.Owner, RamSize);
                return false;
            }
            _claims.Add(claim);
            refusal = null;
            return true;
        }
    }

    /// <summary>What is wrong with a range before any other claim is looked at, if anything. Under the claims lock.</summary>
    private ClaimRefusalReason? RangeRefusal(BusRange range, bool sharedMemory)
    {
        if (range.Space is not (AddressSpace.Port or AddressSpace.Mmio)) return ClaimRefusalReason.UnknownSpace;
        if (range.Length == 0) return ClaimRefusalReason.EmptyRange;
        // Start and length are checked one by one before End (Start + Length) is formed: a length
        // near 2^64 would wrap End below Start and pass a check of End alone.
        if (range.Space == AddressSpace.Port && (range.Start > 0xFFFF || range.Length > 0x10000 - range.Start))
            return ClaimRefusalReason.PortsPastEnd;
        if (range.Space == AddressSpace.Mmio)
        {
            if (range.Start > 0xFFFF_FFFFUL || range.Length > 0x1_0000_0000UL - range.Start) return ClaimRefusalReason.MmioPast4GiB;
            // Shared memory is the RAM file's, where the guest's map has a hole: the device model already maps it.
            if (sharedMemory)
                return range.Start % PhysicalMemory.PageSize != 0 || range.Length % PhysicalMemory.PageSize != 0
                       || range.Start < PhysicalMemory.VgaHoleStart || range.End > PhysicalMemory.VgaHoleEnd || range.End > RamSize
                    ? ClaimRefusalReason.SharedMemoryOutsideHole
                    : _claims.Count >= MaxClaims ? ClaimRefusalReason.TooManyClaims : null;
            if (range.Start < RamSize) return ClaimRefusalReason.MmioInRam;
        }
        return _claims.Count >= MaxClaims ? ClaimRefusalReason.TooManyClaims : null;
    }

    private AddressMap<BusClaim> ClaimedIn(AddressSpace space) => space == AddressSpace.Port ? _claimedPorts : _claimedMmio;

    /// <summary>Drops every claim of a device model (detached, replaced, or failed and retired). Routed on the next <see cref="Publish"/>.</summary>
    public void RemoveClaimsOf(IDeviceModelEndpoint owner)
    {
        lock (_claims)
        {
            foreach (BusClaim c in _claims)
                if (c.DeviceModel == owner) ClaimedIn(c.Range.Space).Release(c.Range.Start);
            _claims.RemoveAll(c => c.DeviceModel == owner);
        }
    }

    /// <summary>
    /// Builds and publishes the routing table from the local claims and those of the device models
    /// <paramref name="routed"/> accepts. Call with the VCPU paused (or not yet running).
    /// </summary>
    public void Publish(Func<IDeviceModelEndpoint, bool> routed)
    {
        lock (_claims)
        {
            BusClaim[] now = _claims.Where(c => c.DeviceModel is not { } dm || routed(dm)).ToArray();
            _table = RoutingTable.Build(now, _awaited);
            MapSharedMemory(now.Where(c => c.IsSharedMemory).Select(c => c.Range).ToList());
        }
    }

    /// <summary>
    /// A restored snapshot's device model is starting: until it is routed (or <see cref="StopAwaiting"/>),
    /// an exit to a range it had claimed waits in <see cref="WaitForDeviceModel"/> instead of reading as
    /// unclaimed, so the guest can run meanwhile. Routed on the next <see cref="Publish"/>.
    /// </summary>
    public void AwaitDeviceModel(IEnumerable<(BusRange Range, string Device)> ranges)
    {
        lock (_claims)
            foreach (var (range, device) in ranges)
                if (RangeRefusal(range, sharedMemory: range.Space == AddressSpace.Mmio && range.Start < RamSize) is null) _awaited.Add(new BusClaim(range, device, Local: null, Awaited: true));
    }

    /// <summary>Every started device model is routed (or the launch failed): no range waits any more. Routed on the next <see cref="Publish"/>.</summary>
    public void StopAwaiting()
    {
        lock (_claims) _awaited.Clear();
    }

    /// <summary>
    /// VCPU thread, in an exit to an awaited range: waits until the exit has another owner; returns false when
    /// the VM ends first. Set by the VM (it parks the VCPU on its gate, where attach can route the model).
    /// </summary>
    public Func<ExitReason, ulong, bool>? WaitForDeviceModel { get; set; }

    /// <summary>The claim to serve an exit by: an awaited one is waited out (rare: only while a restore's models start).</summary>
    private BusClaim? Settle(BusClaim? claim, ExitReason reason, ulong address)
    {
        while (claim is { Awaited: true })
        {
            if (WaitForDeviceModel is not { } wait || !wait(reason, address)) return null;
            claim = ClaimAt(reason, address);
        }
        return claim;
    }

    /// <summary>Guest memory, where routed shared-memory claims become plain RAM pages (null: no such claims are routed, as in unit tests).</summary>
    public PhysicalMemory? Memory { get; init; }

    // The shared-memory ranges mapped as RAM now. Under the claims lock.
    private List<BusRange> _sharedMapped = new();

    /// <summary>
    /// Maps the routed shared-memory ranges as RAM (the RAM file's pages at the same addresses, which the
    /// device model maps too) and gives back to the hole those no longer routed (their model went): from
    /// then on they exit and read as nobody's. The VCPU is parked; the MMUs drop their TLBs.
    /// </summary>
    private void MapSharedMemory(List<BusRange> routed)
    {
        if (Memory is null || (routed.Count == 0 && _sharedMapped.Count == 0)) return;
        foreach (BusRange r in _sharedMapped)
            if (!routed.Contains(r)) Memory.MapMmio((uint)r.Start, (uint)r.Length);
        foreach (BusRange r in routed)
            if (!_sharedMapped.Contains(r)) Memory.MapRam((uint)r.Start, (uint)r.Length);
        _sharedMapped = routed;
    }

    /// <summary>The routed claim an exit's address falls in, or null.</summary>
    public BusClaim? ClaimAt(ExitReason reason, ulong address)
    {
        RoutingTable t = _table;
        return reason switch
        {
            ExitReason.PortIo => address <= 0xFFFF ? t.OfPort((ushort)address) : null,
            ExitReason.Mmio => t.OfMmio(address),
            _ => null,
        };
    }

    /// <summary>The device model that answers an exit now, if any (a re-issued exit looks up its new owner).</summary>
    public IDeviceModelEndpoint? OwnerOf(ExitReason reason, ulong address) => ClaimAt(reason, address)?.DeviceModel;

    /// <summary>The claim that covers a port now, for reports.</summary>
    public BusClaim? ClaimOfPort(ushort port) => _table.OfPort(port);

    private ExitTarget Target(BusClaim? c)
    {
        if (c is null)
        {
            Interlocked.Increment(ref _unclaimed);
            return ExitTarget.Unclaimed;
        }
        return c.IsDeviceModel ? ExitTarget.DeviceModel : ExitTarget.Monitor;
    }

    public uint PortIn(ushort port, int size)
    {
        BusClaim? claim = _table.OfPort(port);
        if (claim is { Awaited: true }) claim = Settle(claim, ExitReason.PortIo, port);
        _stats.Port(port, read: true, Target(claim));
        uint v = claim is null ? IoSize.AllOnes32(size)
            : claim.Local is { } d ? d.PortRead(port, size) & IoSize.AllOnes32(size)
            : claim.DeviceModel is { } dm ? (uint)dm.Port.PortRead(port, size, claim.Policy) : IoSize.AllOnes32(size);
        if ((_exitLog ?? _errorLog) is not null) LogAccess("port", port, size, read: true, v, claim);
        return v;
    }

    public void PortOut(ushort port, int size, uint value)
    {
        BusClaim? claim = _table.OfPort(port);
        if (claim is { Awaited: true }) claim = Settle(claim, ExitReason.PortIo, port);
        _stats.Port(port, read: false, Target(claim));
        if ((_exitLog ?? _errorLog) is not null) LogAccess("port", port, size, read: false, value & IoSize.AllOnes32(size), claim);
        if (claim is null) return;
        if (claim.Local is { } d) d.PortWrite(port, size, value & IoSize.AllOnes32(size));
        else claim.DeviceModel?.Port.PortWrite(port, size, value & IoSize.AllOnes32(size), claim.Policy);
    }

    public void PortInString(ushort port, int size, Span<byte> data)
    {
        if (_table.OfPort(port) is { IsDeviceModel: true, DeviceModel: { } dm })
        {
            // One exit for the whole string: the data travel in the data page.
            _stats.Port(port, read: true, ExitTarget.DeviceModel, isString: true);
            if (_exitLog is not null) LogAccess("port", port, size, read: true, 0, _table.OfPort(port), isString: true);
            dm.Port.PortInString(port, size, data);
            return;
        }
        for (int i = 0; i + size <= data.Length; i += size)
        {
            uint v = PortIn(port, size);
            for (int b = 0; b < size; b++) data[i + b] = (byte)(v >> (8 * b));
        }
    }

    public void PortOutString(ushort port, int size, ReadOnlySpan<byte> data)
    {
        if (_table.OfPort(port) is { IsDeviceModel: true, DeviceModel: { } dm })
        {
            _stats.Port(port, read: false, ExitTarget.DeviceModel, isString: true);
            if (_exitLog is not null) LogAccess("port", port, size, read: false, 0, _table.OfPort(port), isString: true);
            dm.Port.PortOutString(port, size, data);
            return;
        }
        for (int i = 0; i + size <= data.Length; i += size)
        {
            uint v = 0;
            for (int b = 0; b < size; b++) v |= (uint)data[i + b] << (8 * b);
            PortOut(port, size, v);
        }
    }

    public bool TryAssistString(in StringIoAssist chunk)
    {
        if (_table.OfPort(chunk.Port) is not { IsDeviceModel: true, DeviceModel: { } dm } || !dm.Port.StringAssist) return false;
        _stats.Port(chunk.Port, read: !chunk.Out, ExitTarget.DeviceModel, isString: true);
        if (_exitLog is not null) LogAccess("port", chunk.Port, chunk.Size, read: !chunk.Out, 0, _table.OfPort(chunk.Port), isString: true);
        return dm.Port.TryAssistString(chunk);
    }

    public ulong MmioRead(ulong address, int size)
    {
        BusClaim? c = _table.OfMmio(address);
        if (c is { Awaited: true }) c = Settle(c, ExitReason.Mmio, address);
        _stats.Mmio(address, read: true, Target(c));
        ulong ones = IoSize.AllOnes(size);
        ulong v = c is null ? ones
            : c.Local is { } d ? d.MmioRead(address, size) & ones
            : c.DeviceModel is { } dm ? dm.Port.MmioRead(address, size) : ones;
        if ((_exitLog ?? _errorLog) is not null) LogAccess("mmio", address, size, read: true, v, c);
        return v;
    }

    public void MmioWrite(ulong address, int size, ulong value)
    {
        BusClaim? c = _table.OfMmio(address);
        if (c is { Awaited: true }) c = Settle(c, ExitReason.Mmio, address);
        _stats.Mmio(address, read: false, Target(c));
        if ((_exitLog ?? _errorLog) is not null) LogAccess("mmio", address, size, read: false, value, c);
        if (c is null) return;
        if (c.Local is { } d) d.MmioWrite(address, size, value);
        else c.DeviceModel?.Port.MmioWrite(address, size, value, c.Policy);
    }
}
