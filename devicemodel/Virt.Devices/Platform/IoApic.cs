using Virt.Devices.Bus;
using Virt.Devices.Metrics;
using Virt.Shared.Routing;

namespace Virt.Devices.Platform;

/// <summary>
/// An 82093AA-style I/O APIC at 0xFEC00000: IOREGSEL (0x00) / IOWIN (0x10), ID, version
/// (24 redirection entries), and the redirection table with edge and level triggering, polarity,
/// masking and remote IRR cleared by the local APIC's EOI broadcast. Delivery goes through
/// <see cref="Deliver"/> (vector, level-triggered) to the one local APIC.
/// </summary>
public sealed partial class IoApic : IDevice, IMeasuredDevice
{
    public const ulong DefaultBase = 0xFEC0_0000;
    public const int Pins = 24;

    private const ulong Masked = 1UL << 16, Level = 1UL << 15, RemoteIrr = 1UL << 14, ActiveLow = 1UL << 13;

    private readonly BusRange[] _ranges;
    private readonly ulong[] _redir = new ulong[Pins];
    private readonly bool[] _pin = new bool[Pins];
    private uint _select, _id;

    public IoApic(ulong baseAddress = DefaultBase, byte id = 1)
    {
        _ranges = [BusRange.Mmio(baseAddress, 0x1000)];
        _id = (uint)id << 24;
        for (int i = 0; i < Pins; i++) _redir[i] = Masked;
    }

    public string Name => "ioapic";

    /// <summary>This I/O APIC's counters (interrupts delivered to the local APIC).</summary>
    public IoApicMetrics Metrics { get; } = new("ioapic");

    IDeviceMetrics IMeasuredDevice.Metrics => Metrics;

    public IReadOnlyList<BusRange> Ranges => _ranges;

    /// <summary>Sends an interrupt to the local APIC: (vector, level-triggered).</summary>
    public Action<int, bool>? Deliver { get; set; }

    public void Attach(IDeviceHost host) { }

    public ulong RedirectionEntry(int pin) => _redir[pin];

    /// <summary>Drives an input pin (ISA IRQs 0-15 map to pins per the MP table: IRQ0 on pin 2).</summary>
    public void SetPin(int pin, bool high)
    {
        if ((uint)pin >= Pins) return;
        ulong e = _redir[pin];
        bool asserted = high ^ ((e & ActiveLow) != 0);
        bool was = _pin[pin];
        _pin[pin] = asserted;
        if ((e & Level) != 0)
        {
            if (asserted) TryDeliver(pin);
        }
        else if (asserted && !was)
        {
            TryDeliver(pin);
        }
    }

    /// <summary>The local APIC's EOI broadcast for a level-triggered vector.</summary>
    public void EndOfInterrupt(int vector)
    {
        for (int pin = 0; pin < Pins; pin++)
        {
            ulong e = _redir[pin];
            if ((e & RemoteIrr) == 0 || (int)(e & 0xFF) != vector) continue;
            _redir[pin] = e & ~RemoteIrr;
            if (_pin[pin]) TryDeliver(pin); // still asserted: interrupt again
        }
    }

    private void TryDeliver(int pin)
    {
        ulong e = _redir[pin];
        if ((e & Masked) != 0) return;
        bool level = (e & Level) != 0;
        if (level)
        {
            if ((e & RemoteIrr) != 0) return;
            _redir[pin] = e | RemoteIrr;
        }
        uint mode = (uint)(e >> 8) & 7;
        if (mode is 0 or 1) // fixed / lowest priority: the only CPU
        {
            Metrics.Deliveries++;
            Deliver?.Invoke((int)(e & 0xFF), level);
        }
    }

    public ulong MmioRead(ulong address, int size)
    {
        int off = (int)(address & 0xFF);
        uint v = off switch
        {
            0x00 => _select,
            0x10 => ReadRegister(_select),
            _ => 0,
        };
        return v & IoSize.AllOnes32(size);
    }

    public void MmioWrite(ulong address, int size, ulong value)
    {
        int off = (int)(address & 0xFF);
        if (off == 0x00) _select = (uint)value & 0xFF;
        else if (off == 0x10) WriteRegister(_select, (uint)value);
    }

    private uint ReadRegister(uint reg)
    {
        if (reg == 0) return _id;
        if (reg == 1) return ((uint)(Pins - 1) << 16) | 0x11;
        if (reg == 2) return _id;
        if (reg >= 0x10 && reg < 0x10 + 2 * Pins)
        {
            ulong e = _redir[(reg - 0x10) >> 1];
            return (reg & 1) == 0 ? (uint)e : (uint)(e >> 32);
        }
        return 0xFFFF_FFFF;
    }

    private void WriteRegister(uint reg, uint value)
    {
        if (reg == 0) { _id = value & 0x0F00_0000; return; }
        if (reg < 0x10 || reg >= 0x10 + 2 * Pins) return;
        int pin = (int)(reg - 0x10) >> 1;
        ulong e = _redir[pin];
        if ((reg & 1) == 0)
        {
            // Delivery status (12) and remote IRR (14) are read-only.
            const ulong ro = (1UL << 12) | RemoteIrr;
            e = (e & (0xFFFF_FFFF_0000_0000UL | ro)) | ((ulong)value & ~ro & 0xFFFF_FFFFUL);
            if ((e & Level) == 0) e &= ~RemoteIrr;
        }
        else
        {
            e = (e & 0xFFFF_FFFFUL) | ((ulong)(value & 0xFF00_0000) << 32);
        }
        _redir[pin] = e;
        if (_pin[pin] && (e & Level) != 0) TryDeliver(pin); // unmasking an asserted level pin
    }
}
