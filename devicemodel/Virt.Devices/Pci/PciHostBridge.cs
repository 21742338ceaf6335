using System.Buffers.Binary;
using Virt.Devices.Bus;
using Virt.Devices.Metrics;
using Virt.Shared.Routing;

namespace Virt.Devices.Pci;

/// <summary>
/// PCI configuration mechanism #1 (CONFIG_ADDRESS at 0xCF8, CONFIG_DATA at 0xCFC-0xCFF) over an
/// honest, minimal bus 0: one Intel 440FX host bridge at 00:00.0 and nothing else, so every other
/// function reads all ones (no device). Also the PIIX reset control register at 0xCF9 (a byte
/// inside the address register's dword, which the chipset decodes only for byte accesses).
/// </summary>
public sealed class PciHostBridge : IDevice, IAccessPolicies, IMeasuredDevice
{
    /// <summary>0xCF9 (reset control) lies in the bridge's range: a platform event.</summary>
    public IReadOnlyList<RangePolicy> Policies => s_ranges.Select(r => new RangePolicy(r, AccessPolicy.PlatformEvents)).ToArray();

    public const ushort ConfigAddressPort = 0xCF8, ResetControlPort = 0xCF9, ConfigDataPort = 0xCFC;
    public const ushort VendorIntel = 0x8086, Device440Fx = 0x1237;

    private const uint EnableBit = 0x8000_0000;
    private const byte ResetCpu = 0x04, SystemReset = 0x02;

    private static readonly BusRange[] s_ranges = [BusRange.Ports(ConfigAddressPort, 8)];

    private readonly byte[] _bridge = new byte[256];
    private uint _address;
    private byte _resetControl;

    public PciHostBridge()
    {
        var c = _bridge.AsSpan();
        BinaryPrimitives.WriteUInt16LittleEndian(c[0x00..], VendorIntel);
        BinaryPrimitives.WriteUInt16LittleEndian(c[0x02..], Device440Fx);
        BinaryPrimitives.WriteUInt16LittleEndian(c[0x04..], 0x0006); // command: memory + bus master
        BinaryPrimitives.WriteUInt16LittleEndian(c[0x06..], 0x0280); // status: fast back-to-back, medium DEVSEL
        c[0x08] = 0x02;                                               // revision
        c[0x09] = 0x00; c[0x0A] = 0x00; c[0x0B] = 0x06;               // class 06:00:00 host bridge
        c[0x0E] = 0x00;                                               // header type 0, single function
    }

    public string Name => "pci";

    /// <summary>This bridge's counters (configuration cycles that found no device, resets).</summary>
    public PciHostBridgeMetrics Metrics { get; } = new("pci");

    IDeviceMetrics IMeasuredDevice.Metrics => Metrics;

    public IReadOnlyList<BusRange> Ranges => s_ranges;

    /// <summary>The guest wrote 0xCF9 with RST_CPU set; the argument is true for a full system reset (SYS_RST).</summary>
    public event Action<bool>? ResetRequested;

    public void Attach(IDeviceHost host) { }

    public uint PortRead(ushort port, int size)
    {
        if (port == ConfigAddressPort && size == 4) return _address;
        if (port == ResetControlPort && size == 1) return _resetControl;
        if (port >= ConfigDataPort) return ConfigRead(port - ConfigDataPort, size);
        return IoSize.AllOnes32(size);
    }

    public void PortWrite(ushort port, int size, uint value)
    {
        if (port == ConfigAddressPort && size == 4)
        {
            _address = value & 0x80FF_FFFC;
            return;
        }
        if (port == ResetControlPort && size == 1)
        {
            _resetControl = (byte)(value & 0x0E);
            if ((value & ResetCpu) != 0)
            {
                Metrics.ResetRequests++;
                ResetRequested?.Invoke((value & SystemReset) != 0);
            }
            return;
        }
        if (port >= ConfigDataPort) ConfigWrite(port - ConfigDataPort, size, value);
    }

    /// <summary>The config-space bytes of 00:00.0 (for tests and a future ACPI/firmware builder).</summary>
    public ReadOnlySpan<byte> BridgeConfig => _bridge;

    private bool SelectsBridge(out int register)
    {
        register = (int)(_address & 0xFC);
        // Bus 0, device 0, function 0 only; anything else has no device behind it.
        return (_address & EnableBit) != 0 && (_address & 0x00FF_FF00) == 0;
    }

    private uint ConfigRead(int byteOffset, int size)
    {
        uint none = IoSize.AllOnes32(size);
        if ((_address & EnableBit) == 0) return none;
        if (!SelectsBridge(out int reg))
        {
            Metrics.AbsentReads++;
            return none;
        }
        int o = reg + byteOffset;
        uint v = 0;
        for (int i = 0; i < size && o + i < 256; i++) v |= (uint)_bridge[o + i] << (8 * i);
        return v;
    }

    private void ConfigWrite(int byteOffset, int size, uint value)
    {
        if (!SelectsBridge(out int reg))
        {
            if ((_address & EnableBit) != 0) Metrics.AbsentWrites++;
            return;
        }
        int o = reg + byteOffset;
        for (int i = 0; i < size && o + i < 256; i++)
        {
            int at = o + i;
            byte b = (byte)(value >> (8 * i));
            // Writable: the command register's low byte (I/O, memory, bus master), latency timer,
            // and the chipset registers from 0x40 up (PAM, SMRAM...: stored, no effect here).
            if (at == 0x04) _bridge[at] = (byte)(b & 0x07 | 0x02);
            else if (at == 0x0D || at >= 0x40) _bridge[at] = b;
        }
    }
}
