using Virt.Devices.Bus;
using Virt.Shared.Routing;

namespace Virt.BenchDeviceModel;

/// <summary>
/// A test and benchmark device (virt-dm-bench --io-test), not a PC device and not in the shipped
/// virt-dm: the status-poll, REP INSW and MMIO workloads of `virt bench io` and the batching tests.
/// Deterministic, so runs in every mode can be compared.
/// <list type="bullet">
/// <item>0xBF00 command (write, batched): status becomes <see cref="StatusFor"/>(command).</item>
/// <item>0xBF01 status (read, cached; stale while a write to 0xBF00-0xBF03 is pending).</item>
/// <item>0xBF02, 0xBF03 data (write, batched): folded into the sequence hash in arrival order.</item>
/// <item>0xBF04 hash (read, 4 bytes, synchronous); 0xBF08 writes seen (read, 4 bytes, synchronous).</item>
/// <item>0xBF10 disk data register (16 bits, synchronous): reads return the next word of a fixed
/// sequence (<see cref="Word"/>); writes are folded into the hash (REP INSW / OUTSW).</item>
/// <item>MMIO 0xFEB00000: +0 data register (write, coalescible); +4 hash and +8 writes seen (read, synchronous).</item>
/// </list>
/// </summary>
public sealed class IoTestDevice : IDevice, IAccessPolicies, ICachedReads
{
    public const ushort Base = 0xBF00;
    public const ushort Command = Base, Status = Base + 1, DataA = Base + 2, DataB = Base + 3, Hash = Base + 4, Count = Base + 8, Disk = Base + 0x10;
    public const uint MmioBase = 0xFEB0_0000;

    private byte _status = 0x80;
    private uint _hash = 2166136261;
    private uint _writes;
    private uint _diskIndex;

    public string Name => "iotest";

    public IReadOnlyList<BusRange> Ranges { get; } = [BusRange.Ports(Base, 0x20), BusRange.Mmio(MmioBase, 0x1000)];

    // Command and data writes are batched (nothing answers them); the status read is cached and made
    // stale by them (the status-after-command case); the disk register and the hash reads are synchronous.
    public IReadOnlyList<RangePolicy> Policies { get; } =
    [
        new(BusRange.Ports(Command, 1), AccessPolicy.BatchedWrites),
        new(BusRange.Ports(Status, 1), AccessPolicy.CachedReads),
        new(BusRange.Ports(DataA, 2), AccessPolicy.BatchedWrites),
        new(BusRange.Mmio(MmioBase, 4), AccessPolicy.BatchedWrites),
    ];

    public static byte StatusFor(byte command) => (byte)(command * 13 + 7);

    public static ushort Word(uint index) => (ushort)(index * 0x9E37 + 0x1234);

    public void Attach(IDeviceHost host) { }

    private void Fold(uint what)
    {
        _hash = (_hash ^ what) * 16777619;
        _writes++;
    }

    public uint PortRead(ushort port, int size) => port switch
    {
        Status => _status,
        Hash => _hash,
        Count => _writes,
        Disk => Word(_diskIndex++),
        _ => IoSize.AllOnes32(size),
    };

    public void PortWrite(ushort port, int size, uint value)
    {
        if (port == Command) _status = StatusFor((byte)value);
        Fold(((uint)(port - Base) << 24) ^ value);
    }

    public ulong MmioRead(ulong address, int size) => (address - MmioBase) switch
    {
        4 => _hash,
        8 => _writes,
        _ => 0,
    };

    public void MmioWrite(ulong address, int size, ulong value) => Fold(0x8000_0000u ^ (uint)(address - MmioBase) << 16 ^ (uint)value);

    public void PublishCachedReads(List<CachedRead> into) => into.Add(new CachedRead(Status, 1, _status, Command, 4));
}
