using Virt.Devices.Bus;
using Virt.Devices.Metrics;
using Virt.Devices.Timing;
using Virt.Shared.Routing;

namespace Virt.Devices.Platform;

/// <summary>
/// The local APIC of a single-processor i686 machine, xAPIC MMIO at 0xFEE00000: ID, version,
/// TPR/PPR, EOI, LDR/DFR, SVR, ISR/TMR/IRR, ESR, ICR (self-IPIs: the only other CPU is us),
/// the LVT timer (one-shot and periodic, divide configuration, current count from the host clock),
/// LINT0 in ExtINT mode passing the 8259's INTR through, and LINT1 as NMI.
/// Hosted in the monitor: the CPU adapter asks <see cref="HasInterrupt"/> and <see cref="Acknowledge"/>
/// instead of the PIC's. Interrupts from the I/O APIC arrive through <see cref="AcceptInterrupt"/>.
/// </summary>
public sealed partial class LocalApic : IDevice, ITimedDevice, IMeasuredDevice
{
    public const ulong DefaultBase = 0xFEE0_0000;
    /// <summary>The timer counts the bus clock (before the divider): 100 MHz, a P6-era front-side bus.</summary>
    public const long BusHz = 100_000_000;
    public const uint Version = 0x0005_0014; // integrated APIC, 6 LVT entries (max LVT index 5)

    private const uint LvtMasked = 1u << 16, LvtLevel = 1u << 15, TimerPeriodic = 1u << 17;
    private const int RegId = 0x20, RegVersion = 0x30, RegTpr = 0x80, RegApr = 0x90, RegPpr = 0xA0, RegEoi = 0xB0,
        RegLdr = 0xD0, RegDfr = 0xE0, RegSvr = 0xF0, RegIsr = 0x100, RegTmr = 0x180, RegIrr = 0x200, RegEsr = 0x280,
        RegIcrLow = 0x300, RegIcrHigh = 0x310, RegLvtTimer = 0x320, RegLvtThermal = 0x330, RegLvtPerf = 0x340,
        RegLvtLint0 = 0x350, RegLvtLint1 = 0x360, RegLvtError = 0x370, RegInitialCount = 0x380, RegCurrentCount = 0x390,
        RegDivide = 0x3E0;

    private readonly BusRange[] _ranges;
    private readonly uint[] _isr = new uint[8], _tmr = new uint[8], _irr = new uint[8];
    private readonly uint[] _lvt = new uint[6]; // timer, thermal, perf, LINT0, LINT1, error
    private IDeviceHost? _host;
    private uint _id, _tpr, _ldr, _dfr = 0xFFFF_FFFF, _svr = 0xFF, _esr, _icrLow, _icrHigh, _divide;
    private uint _initialCount;
    private long _timerStart;       // host timestamp at which the current count was (re)loaded
    private bool _timerArmed;       // a one-shot that has not fired yet, or a periodic timer

    public LocalApic(ulong baseAddress = DefaultBase)
    {
        _ranges = [BusRange.Mmio(baseAddress, 0x1000)];
        for (int i = 0; i < _lvt.Length; i++) _lvt[i] = LvtMasked;
    }

    public string Name => "lapic";

    /// <summary>This APIC's counters (interrupts accepted, timer, EOIs, IPIs, spurious).</summary>
    public LocalApicMetrics Metrics { get; } = new("lapic");

    IDeviceMetrics IMeasuredDevice.Metrics => Metrics;

    public IReadOnlyList<BusRange> Ranges => _ranges;

    /// <summary>The 8259's INTR output and INTA cycle, for LINT0 in ExtINT mode.</summary>
    public Func<bool>? ExtIntPending { get; set; }
    public Func<int>? ExtIntAcknowledge { get; set; }

    /// <summary>An NMI for the CPU (LINT1 in NMI mode, or an NMI IPI to self).</summary>
    public event Action? NmiRequested;

    /// <summary>EOI of a level-triggered vector: the I/O APIC clears its remote IRR.</summary>
    public event Action<int>? EndOfInterrupt;

    public bool SoftwareEnabled => (_svr & 0x100) != 0;

    public void Attach(IDeviceHost host) => _host = host;

    /// <summary>What a BIOS does for virtual wire mode: LINT0 = ExtINT, LINT1 = NMI, both unmasked.</summary>
    public void ConfigureVirtualWire()
    {
        _lvt[3] = 0x700;  // ExtINT
        _lvt[4] = 0x400;  // NMI
    }

    // ---- CPU side ----

    /// <summary>True when the CPU's INTR should be asserted (an unmasked ExtINT from the PIC, or a deliverable vector).</summary>
    public bool HasInterrupt => PicPassesThrough && ExtIntPending?.Invoke() == true || HighestDeliverable() >= 0;

    /// <summary>The INTA cycle: the PIC's vector (ExtINT) or the highest deliverable IRR vector moved to ISR; -1 if none.</summary>
    public int Acknowledge()
    {
        Advance();
        if (PicPassesThrough && ExtIntPending?.Invoke() == true)
            return ExtIntAcknowledge?.Invoke() ?? -1;
        int v = HighestDeliverable();
        if (v < 0)
        {
            if (!SoftwareEnabled) return -1;
            Metrics.Spurious++;
            return (int)(_svr & 0xFF); // spurious vector
        }
        Clear(_irr, v);
        Set(_isr, v);
        return v;
    }

    /// <summary>PIC interrupts reach the CPU through LINT0 in ExtINT mode, or directly while the APIC is software-disabled.</summary>
    private bool PicPassesThrough => !SoftwareEnabled || ((_lvt[3] & LvtMasked) == 0 && ((_lvt[3] >> 8) & 7) == 7);

    /// <summary>A fixed interrupt from the I/O APIC or an IPI. Level-triggered vectors set TMR so EOI is broadcast.</summary>
    public void AcceptInterrupt(int vector, bool level)
    {
        if (vector < 16) { _esr |= 0x40; return; } // received illegal vector
        if (!SoftwareEnabled) return;
        Metrics.Interrupts++;
        Set(_irr, vector);
        if (level) Set(_tmr, vector); else Clear(_tmr, vector);
    }

    /// <summary>The LINT1 pin (NMI by default) or LINT0 used as a plain input.</summary>
    public void SetLint(int pin, bool high)
    {
        if (!high) return;
        uint lvt = _lvt[3 + pin];
        if (SoftwareEnabled && (lvt & LvtMasked) != 0) return;
        switch ((lvt >> 8) & 7)
        {
            case 4: NmiRequested?.Invoke(); break;
            case 0: AcceptInterrupt((int)(lvt & 0xFF), (lvt & LvtLevel) != 0); break;
        }
    }

    private int HighestDeliverable()
    {
        int irr = Highest(_irr);
        if (irr < 0) return -1;
        int isr = Highest(_isr);
        uint ppr = Ppr(isr);
        return (irr & 0xF0) > (ppr & 0xF0) ? irr : -1;
    }

    private uint Ppr(int isr)
    {
        uint isrClass = isr < 0 ? 0 : (uint)isr & 0xF0;
        return (_tpr & 0xF0) >= isrClass ? _tpr & 0xFF : isrClass;
    }

    // ---- Timer ----

    private long Divisor
    {
        get
        {
            uint v = (_divide & 3) | ((_divide >> 1) & 4);
            return v == 7 ? 1 : 2L << (int)v;
        }
    }

    private long Now => _host?.Time.GetTimestamp() ?? 0;

    private long Frequency => _host?.Time.TimestampFrequency ?? 1;

    /// <summary>Timer ticks (bus clocks / divisor) since the count was loaded.</summary>
    private long TicksSinceLoad() => TimeMath.ScaleFloor(Now - _timerStart, BusHz / Divisor, Frequency);

    private uint CurrentCount()
    {
        if (_initialCount == 0) return 0;
        long t = TicksSinceLoad();
        if ((_lvt[0] & TimerPeriodic) != 0) return (uint)(_initialCount - t % _initialCount);
        return t >= _initialCount ? 0 : (uint)(_initialCount - t);
    }

    public TimeSpan? NextDeadline
    {
        get
        {
            if (!_timerArmed || _initialCount == 0) return null;
            // Both modes fire when the count since _timerStart reaches the initial count: Advance moves
            // _timerStart forward by whole periods as a periodic timer fires, so a period that has
            // passed without an Advance reads as due (Zero), not as the next period's distance.
            long t = TicksSinceLoad();
            long fireAt = _initialCount;
            if (t >= fireAt) return TimeSpan.Zero;
            long hostTicks = TimeMath.ScaleCeiling(fireAt, Frequency, BusHz / Divisor) - (Now - _timerStart);
            return TimeMath.TimestampsToTimeSpan(Math.Max(0, hostTicks), Frequency) + TimeSpan.FromTicks(1);
        }
    }

    public void Advance()
    {
        if (!_timerArmed || _initialCount == 0) return;
        long t = TicksSinceLoad();
        if (t < _initialCount) return;
        if ((_lvt[0] & TimerPeriodic) != 0)
        {
            // Missed periods collapse into one interrupt (IRR holds one bit per vector anyway).
            long periods = t / _initialCount;
            _timerStart += TimeMath.ScaleCeiling(periods * _initialCount, Frequency, BusHz / Divisor);
        }
        else
        {
            _timerArmed = false;
        }
        if ((_lvt[0] & LvtMasked) == 0)
        {
            Metrics.TimerInterrupts++;
            AcceptInterrupt((int)(_lvt[0] & 0xFF), false);
        }
    }

    // ---- MMIO ----

    public ulong MmioRead(ulong address, int size)
    {
        int off = (int)(address & 0xFFF);
        uint v = ReadRegister(off & 0xFF0);
        int shift = 8 * (off & 3);
        return size >= 4 ? v : (v >> shift) & IoSize.AllOnes32(size);
    }

    public void MmioWrite(ulong address, int size, ulong value)
    {
        int off = (int)(address & 0xFFF);
        // Registers are 32 bits wide at 16-byte strides; narrower writes are undefined on hardware: take them as 32-bit.
        if ((off & 0xF) != 0) return;
        WriteRegister(off, (uint)value);
    }

    private uint ReadRegister(int reg)
    {
        switch (reg)
        {
            case RegId: return _id;
            case RegVersion: return Version;
            case RegTpr: return _tpr;
            case RegApr: return 0;
            case RegPpr: return Ppr(Highest(_isr));
            case RegLdr: return _ldr;
            case RegDfr: return _dfr;
            case RegSvr: return _svr;
            case RegEsr: return _esr;
            case RegIcrLow: return _icrLow & ~(1u << 12); // delivery status: always idle
            case RegIcrHigh: return _icrHigh;
            case >= RegLvtTimer and <= RegLvtError: return _lvt[(reg - RegLvtTimer) >> 4];
            case RegInitialCount: return _initialCount;
            case RegCurrentCount: return CurrentCount();
            case RegDivide: return _divide;
            case >= RegIsr and < RegTmr: return _isr[(reg - RegIsr) >> 4];
            case >= RegTmr and < RegIrr: return _tmr[(reg - RegTmr) >> 4];
            case >= RegIrr and < RegEsr: Advance(); return _irr[(reg - RegIrr) >> 4];
            default: return 0;
        }
    }

    private void WriteRegister(int reg, uint v)
    {
        switch (reg)
        {
            case RegId: _id = v & 0xFF00_0000; break;
            case RegTpr: _tpr = v & 0xFF; break;
            case RegEoi: Eoi(); break;
            case RegLdr: _ldr = v & 0xFF00_0000; break;
            case RegDfr: _dfr = v | 0x0FFF_FFFF; break;
            case RegSvr:
                _svr = v & 0x3FF;
                if (!SoftwareEnabled) for (int i = 0; i < _lvt.Length; i++) _lvt[i] |= LvtMasked;
                break;
            case RegEsr: _esr = 0; break;
            case RegIcrHigh: _icrHigh = v & 0xFF00_0000; break;
            case RegIcrLow: _icrLow = v & 0x000C_CFFF; SendIpi(); break;
            case >= RegLvtTimer and <= RegLvtError:
                {
                    int i = (reg - RegLvtTimer) >> 4;
                    uint mask = i == 0 ? 0x3_10FFu : i is 3 or 4 ? 0x1_A7FFu : 0x1_07FFu;
                    if (!SoftwareEnabled) v |= LvtMasked;
                    _lvt[i] = v & mask;
                    break;
                }
            case RegInitialCount:
                _initialCount = v;
                _timerStart = Now;
                _timerArmed = v != 0;
                break;
            case RegDivide:
                {
                    // Keep the current count continuous across a divider change.
                    uint current = CurrentCount();
                    _divide = v & 0xB;
                    if (_initialCount != 0) _timerStart = Now - TimeMath.ScaleCeiling(_initialCount - current, Frequency, BusHz / Divisor);
                    break;
                }
        }
    }

    private void Eoi()
    {
        int v = Highest(_isr);
        if (v < 0) return;
        Metrics.Eois++;
        Clear(_isr, v);
        if (Test(_tmr, v)) { Clear(_tmr, v); EndOfInterrupt?.Invoke(v); }
    }

    // ---- KVM's PV EOI (the interrupt controller that owns the guest's PV EOI word drives these) ----

    /// <summary>
    /// Whether the guest may end <paramref name="vector"/> without an EOI write: it is the only
    /// vector in service, edge-triggered (no I/O APIC remote IRR to clear), with nothing waiting in
    /// IRR, the conditions of KVM's apic_sync_pv_eoi_to_guest.
    /// </summary>
    public bool MayEndWithoutEoi(int vector)
    {
        if (vector < 16 || vector > 255 || !Test(_isr, vector) || Test(_tmr, vector) || Highest(_irr) >= 0) return false;
        for (int i = 0; i < _isr.Length; i++)
            if (_isr[i] != (i == vector >> 5 ? 1u << (vector & 31) : 0)) return false;
        return true;
    }

    /// <summary>The EOI the guest skipped through its PV EOI word: ends the highest vector in service.</summary>
    public void EndInterruptForGuest()
    {
        int v = Highest(_isr);
        if (v < 0) return;
        Metrics.PvEois++;
        Clear(_isr, v);
        if (Test(_tmr, v)) { Clear(_tmr, v); EndOfInterrupt?.Invoke(v); }
    }

    private void SendIpi()
    {
        int vector = (int)(_icrLow & 0xFF);
        uint mode = (_icrLow >> 8) & 7;
        uint shorthand = (_icrLow >> 18) & 3;
        bool toSelf = shorthand switch
        {
            1 => true,                  // self
            2 => true,                  // all including self
            3 => false,                 // all excluding self: there is nobody else
            _ => (_icrHigh >> 24) == (_id >> 24) || (_icrHigh >> 24) == 0xFF,
        };
        if (!toSelf) return;
        Metrics.Ipis++;
        if (mode == 0) AcceptInterrupt(vector, false);
        else if (mode == 4) NmiRequested?.Invoke();
        // INIT and STARTUP to ourselves are ignored (no other processors).
    }

    private static int Highest(uint[] bits)
    {
        for (int i = 7; i >= 0; i--)
            if (bits[i] != 0) return i * 32 + 31 - System.Numerics.BitOperations.LeadingZeroCount(bits[i]);
        return -1;
    }

    private static void Set(uint[] bits, int v) => bits[v >> 5] |= 1u << (v & 31);
    private static void Clear(uint[] bits, int v) => bits[v >> 5] &= ~(1u << (v & 31));
    private static bool Test(uint[] bits, int v) => (bits[v >> 5] & (1u << (v & 31))) != 0;
}
