using Virt.Cpu.Exits;
using Virt.Devices.Bus;
using Virt.Monitor.Stats;
using Virt.Shared.Control;

namespace Virt.Monitor.Exits;

/// <summary>
/// The monitor's exit handler: maps each port and MMIO address to a device hosted in the monitor
/// (a direct call on the VCPU thread) or to the device model (a round trip through the comm page).
/// Unclaimed ports read as all ones and drop writes, as on an ISA bus with nothing there.
/// The tables are built before the guest runs and are only read afterwards.
/// </summary>
public sealed class ExitRouter : IExitHandler
{
    // Index into _claims + 1 for every port; 0 = unclaimed. A flat table: the exit path does one load.
    private readonly ushort[] _portClaim = new ushort[0x10000];
    private readonly List<BusClaim> _claims = new();
    private readonly ExitStatistics _stats;
    private bool _sealed;

    public ExitRouter(ExitStatistics stats) => _stats = stats;

    public IReadOnlyList<BusClaim> Claims => _claims;

    /// <summary>Where exits for the device model's claims go. Set when it attaches.</summary>
    public DeviceModelPort? DeviceModel { get; set; }

    /// <summary>RAM size: MMIO claims inside RAM are refused.</summary>
    public ulong RamSize { get; init; }

    /// <summary>Hosts a device in the monitor: its ranges are claimed for it.</summary>
    public void AddLocal(IDevice device)
    {
        foreach (BusRange r in device.Ranges)
            if (TryClaim(r, device.Name, device) is { } error) throw new InvalidOperationException(error);
    }

    /// <summary>Claims a range for a device; returns null, or why the claim is refused.</summary>
    public string? TryClaim(BusRange range, string device, IDevice? local, ClaimFlags policy = ClaimFlags.None)
    {
        lock (_claims)
        {
            if (_sealed) return "claims are closed: the guest is running";
            if (range.Length == 0) return $"{range.Space} claim of length 0";
            if (range.Space == BusSpace.Port && range.End > 0x10000) return $"port claim 0x{range.Start:X}+0x{range.Length:X} goes past port 0xFFFF";
            if (range.Space == BusSpace.Mmio)
            {
                if (range.End > 0x1_0000_0000UL || range.End < range.Start) return $"MMIO claim {range} goes past 4 GiB";
                if (range.Start < RamSize) return $"MMIO claim {range} overlaps guest RAM (0-0x{RamSize - 1:X})";
            }
            if (_claims.Count >= ushort.MaxValue - 1) return "too many claims";
            foreach (BusClaim c in _claims)
                if (c.Range.Overlaps(range))
                    return $"{range} for '{device}' overlaps {c.Range} already claimed by {c.Owner}";
            _claims.Add(new BusClaim(range, device, local, policy));
            if (range.Space == BusSpace.Port)
                for (ulong p = range.Start; p < range.End; p++) _portClaim[p] = (ushort)_claims.Count;
            return null;
        }
    }

    /// <summary>No more claims: the VCPU reads the tables without locks from now on.</summary>
    public void Seal()
    {
        lock (_claims) _sealed = true;
    }

    private static uint Ones(int size) => size >= 4 ? 0xFFFF_FFFFu : (1u << (8 * size)) - 1;

    public uint PortIn(ushort port, int size)
    {
        int c = _portClaim[port];
        _stats.Port(port, read: true, c == 0 ? ExitTarget.Unclaimed : _claims[c - 1].IsDeviceModel ? ExitTarget.DeviceModel : ExitTarget.Monitor);
        if (c == 0) return Ones(size);
        BusClaim claim = _claims[c - 1];
        if (claim.Local is { } d) return d.PortRead(port, size) & Ones(size);
        return DeviceModel is { } dm ? (uint)dm.PortRead(port, size, claim.Policy) : Ones(size);
    }

    public void PortOut(ushort port, int size, uint value)
    {
        int c = _portClaim[port];
        _stats.Port(port, read: false, c == 0 ? ExitTarget.Unclaimed : _claims[c - 1].IsDeviceModel ? ExitTarget.DeviceModel : ExitTarget.Monitor);
        if (c == 0) return;
        BusClaim claim = _claims[c - 1];
        if (claim.Local is { } d) d.PortWrite(port, size, value & Ones(size));
        else DeviceModel?.PortWrite(port, size, value & Ones(size), claim.Policy);
    }

    public void PortInString(ushort port, int size, Span<byte> data)
    {
        int c = _portClaim[port];
        if (c != 0 && _claims[c - 1].IsDeviceModel && DeviceModel is { } dm)
        {
            // One exit for the whole string: the data travel in the data page.
            _stats.Port(port, read: true, ExitTarget.DeviceModel, isString: true);
            dm.PortInString(port, size, data);
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
        int c = _portClaim[port];
        if (c != 0 && _claims[c - 1].IsDeviceModel && DeviceModel is { } dm)
        {
            _stats.Port(port, read: false, ExitTarget.DeviceModel, isString: true);
            dm.PortOutString(port, size, data);
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
        int c = _portClaim[chunk.Port];
        if (c == 0 || !_claims[c - 1].IsDeviceModel || DeviceModel is not { } dm || !dm.StringAssist) return false;
        _stats.Port(chunk.Port, read: !chunk.Out, ExitTarget.DeviceModel, isString: true);
        return dm.TryAssistString(chunk);
    }

    private BusClaim? FindMmio(ulong address)
    {
        foreach (BusClaim c in _claims)
            if (c.Range.Space == BusSpace.Mmio && c.Range.Contains(address)) return c;
        return null;
    }

    public ulong MmioRead(ulong address, int size)
    {
        BusClaim? c = FindMmio(address);
        _stats.Mmio(address, read: true, c is null ? ExitTarget.Unclaimed : c.IsDeviceModel ? ExitTarget.DeviceModel : ExitTarget.Monitor);
        ulong ones = size >= 8 ? ulong.MaxValue : (1UL << (8 * size)) - 1;
        if (c is null) return ones;
        if (c.Local is { } d) return d.MmioRead(address, size) & ones;
        return DeviceModel is { } dm ? dm.MmioRead(address, size) : ones;
    }

    public void MmioWrite(ulong address, int size, ulong value)
    {
        BusClaim? c = FindMmio(address);
        _stats.Mmio(address, read: false, c is null ? ExitTarget.Unclaimed : c.IsDeviceModel ? ExitTarget.DeviceModel : ExitTarget.Monitor);
        if (c is null) return;
        if (c.Local is { } d) d.MmioWrite(address, size, value);
        else DeviceModel?.MmioWrite(address, size, value, c.Policy);
    }

    /// <summary>The claim that covers a port, for reports.</summary>
    public BusClaim? ClaimOfPort(ushort port) => _portClaim[port] is var c and not 0 ? _claims[c - 1] : null;
}
