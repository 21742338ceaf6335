using Virt.Devices.Bus;
using Virt.Devices.Common;
using Virt.Devices.Metrics;
using Virt.Devices.State;
using Virt.Devices.Timing;
using static Virt.Devices.Rtc.CmosMap;

namespace Virt.Devices.Rtc;

/// <summary>
/// The PC's MC146818 real-time clock and its 128 bytes of CMOS RAM, at ports 0x70 (index, bit 7
/// masks NMI) and 0x71 (data).
/// <para>
/// The calendar is not ticked by a timer: while running it is "host clock at attach (plus the
/// configured offset from UTC) plus elapsed host time", evaluated when read. Interrupt flags in
/// register C are brought up to date lazily (on register access) and by <see cref="Advance"/>,
/// which the host calls at <see cref="NextDeadline"/> so periodic, alarm and update-ended
/// interrupts reach IRQ 8 on time. The line follows register C's IRQF bit; reading C clears it.
/// </para>
/// </summary>
public sealed partial class Mc146818Rtc : BytePortDevice, IStatefulDevice, ITimedDevice, IMeasuredDevice
{
    public const ushort IndexPort = 0x70, DataPort = 0x71;
    public const int DefaultIrq = 8;

    /// <summary>UIP rises this long before each update: 8 cycles of the 32.768 kHz time base (244 us).</summary>
    public static readonly TimeSpan UpdateInProgressLead = TimeSpan.FromTicks(2441);

    private const long TicksPerSecond = TimeSpan.TicksPerSecond;
    private const long DividerHz = 32768;
    private const string StateTag = "CMOS";
    private const ushort StateVersion = 1;

    private static readonly BusRange[] s_ranges = [BusRange.Ports(IndexPort, 2)];

    private readonly byte[] _cmos = new byte[Size];
    private readonly TimeSpan _utcOffset;
    private readonly int _irq;
    private IDeviceHost? _host;
    private long _frequency;
    private byte _index;
    private bool _irqLevel;

    // Calendar: while running, guest time = _calendarBaseTicks + (now - _calendarBaseTimestamp).
    // While stopped (SET, or divider held in reset) the clock registers in _cmos are the time.
    private bool _clockRunning;
    private long _calendarBaseTicks;
    private long _calendarBaseTimestamp;

    // Divider chain origin: periodic interrupts are counted in 32.768 kHz cycles from here.
    private long _dividerEpoch;

    // Flags in register C are up to date as of this host timestamp.
    private long _lastSync;

    /// <param name="memoryBelow4G">Guest RAM below 4 GiB in bytes (sets the base, extended and above-16 MiB fields).</param>
    /// <param name="memoryAbove4G">Guest RAM above 4 GiB in bytes (0x5B-0x5D).</param>
    /// <param name="equipment">Equipment byte 0x14; the default says "math coprocessor present, VGA".</param>
    /// <param name="utcOffset">RTC time minus UTC: zero for Linux guests, local offset for Windows/DOS habits.</param>
    /// <param name="irq">ISA line for the RTC interrupt (8 on a PC).</param>
    public Mc146818Rtc(ulong memoryBelow4G, ulong memoryAbove4G = 0, byte equipment = 0x02, TimeSpan utcOffset = default, int irq = DefaultIrq)
    {
        _utcOffset = utcOffset;
        _irq = irq;
        _cmos[RegisterA] = ADividerNormal | 0x06; // 32.768 kHz time base, 1024 Hz periodic rate.
        _cmos[RegisterB] = B24Hour;               // BCD, 24-hour: what PC firmware sets.
        _cmos[RegisterD] = DValidRamAndTime;
        _cmos[Equipment] = equipment;
        SetMemoryFields(memoryBelow4G, memoryAbove4G);
        UpdateChecksum();
    }

    public override string Name => "rtc";

    public override IReadOnlyList<BusRange> Ranges => s_ranges;

    public int Irq => _irq;

    /// <summary>This RTC's counters (interrupts by source, reads during an update); not part of its saved state.</summary>
    public Mc146818RtcMetrics Metrics { get; } = new("rtc");

    IDeviceMetrics IMeasuredDevice.Metrics => Metrics;

    /// <summary>Bit 7 of the last index write: the guest asked for NMI to be masked.</summary>
    public bool NmiDisabled { get; private set; }

    public bool IrqLevel => _irqLevel;

    /// <summary>The guest-visible date and time as the RTC would report it now.</summary>
    public DateTime GuestTime => new(_clockRunning ? CalendarTicks(Now()) : ParseClockRegisters(), DateTimeKind.Unspecified);

    private IDeviceHost Host => _host ?? throw new InvalidOperationException("The RTC must be attached to a host before use.");

    private bool DividerRunning => (_cmos[RegisterA] & ADividerMask) == ADividerNormal;

    private bool Binary => (_cmos[RegisterB] & BBinary) != 0;

    private bool Hour24 => (_cmos[RegisterB] & B24Hour) != 0;

    public override void Attach(IDeviceHost host)
    {
        _host = host;
        _frequency = host.Time.TimestampFrequency;
        long now = host.Time.GetTimestamp();
        _calendarBaseTicks = (host.Time.GetUtcNow().UtcDateTime + _utcOffset).Ticks;
        _calendarBaseTimestamp = now;
        _dividerEpoch = now;
        _lastSync = now;
        _clockRunning = true;
        UpdateRunning(now, startFraction: 0);
    }

    /// <summary>Raw CMOS byte, for host-side configuration (boot order, disk types); bypasses the clock logic.</summary>
    public byte ReadCmos(int index) => _cmos[index & 0x7F];

    /// <summary>Sets a raw CMOS byte from the host; call <see cref="UpdateChecksum"/> after changing 0x10-0x2D.</summary>
    public void WriteCmos(int index, byte value) => _cmos[index & 0x7F] = value;

    /// <summary>Recomputes the standard checksum: the 16-bit sum of 0x10-0x2D, big-endian at 0x2E-0x2F.</summary>
    public void UpdateChecksum()
    {
        int sum = 0;
        for (int i = ChecksumFirst; i <= ChecksumLast; i++)
            sum += _cmos[i];
        _cmos[ChecksumHigh] = (byte)(sum >> 8);
        _cmos[ChecksumLow] = (byte)sum;
    }

    private void SetMemoryFields(ulong below4G, ulong above4G)
    {
        const ulong KiB = 1024, MiB = 1024 * KiB;
        // Conventional memory is always reported as 640 KiB: the rest of the first MiB is ROM and video.
        _cmos[BaseMemoryLow] = 640 & 0xFF;
        _cmos[BaseMemoryHigh] = 640 >> 8;
        ulong extendedKiB = below4G > MiB ? Math.Min((below4G - MiB) / KiB, 0xFFFF) : 0;
        _cmos[ExtendedMemoryLow] = _cmos[ExtendedMemory2Low] = (byte)extendedKiB;
        _cmos[ExtendedMemoryHigh] = _cmos[ExtendedMemory2High] = (byte)(extendedKiB >> 8);
        ulong above16M = below4G > 16 * MiB ? Math.Min((below4G - 16 * MiB) / (64 * KiB), 0xFFFF) : 0;
        _cmos[MemoryAbove16MLow] = (byte)above16M;
        _cmos[MemoryAbove16MHigh] = (byte)(above16M >> 8);
        ulong high = Math.Min(above4G / (64 * KiB), 0xFF_FFFF);
        _cmos[MemoryAbove4G] = (byte)high;
        _cmos[MemoryAbove4G + 1] = (byte)(high >> 8);
        _cmos[MemoryAbove4G + 2] = (byte)(high >> 16);
    }

    protected override byte ReadByte(ushort port) => port == IndexPort ? (byte)0xFF : ReadRegister(_index);

    protected override void WriteByte(ushort port, byte value)
    {
        if (port == IndexPort)
        {
            _index = (byte)(value & 0x7F);
            NmiDisabled = (value & 0x80) != 0;
        }
        else
        {
            WriteRegister(_index, value);
        }
    }

    private static bool IsClockField(int index) =>
        index is Seconds or Minutes or Hours or Weekday or DayOfMonth or Month or Year or Century;

    private byte ReadRegister(int index)
    {
        if (IsClockField(index) && _clockRunning)
        {
            long ticks = CalendarTicks(Now());
            if (UpdateInProgressAt(ticks))
                Metrics.ReadsWhileUpdating++;
            return FormatField(index, new DateTime(ticks));
        }
        switch (index)
        {
            case RegisterA:
                {
                    bool uip = UpdateInProgress(Now());
                    if (uip)
                        Metrics.UpdateInProgressReads++;
                    return (byte)((_cmos[RegisterA] & 0x7F) | (uip ? AUpdateInProgress : 0));
                }
            case RegisterC:
                {
                    Sync(Now());
                    byte value = _cmos[RegisterC];
                    _cmos[RegisterC] = 0;
                    SetIrqLevel(false);
                    return value;
                }
            case RegisterD:
                return DValidRamAndTime;
            default:
                return _cmos[index];
        }
    }

    private void WriteRegister(int index, byte value)
    {
        long now = Now();
        if (IsClockField(index))
        {
            if (!_clockRunning)
            {
                _cmos[index] = value;
                return;
            }
            // Setting one field while the clock runs: merge it into the current time, keeping the sub-second phase.
            Sync(now);
            long current = CalendarTicks(now);
            StoreClockRegisters(current);
            _cmos[index] = value;
            _calendarBaseTicks = ParseClockRegisters() + current % TicksPerSecond;
            _calendarBaseTimestamp = now;
            return;
        }
        switch (index)
        {
            case RegisterA:
                {
                    Sync(now);
                    bool wasInReset = (_cmos[RegisterA] & 0x60) == 0x60;
                    _cmos[RegisterA] = (byte)(value & 0x7F); // UIP is read-only.
                    bool leavesReset = wasInReset && DividerRunning;
                    if (leavesReset)
                        _dividerEpoch = now;
                    // Releasing the divider reset makes the first update happen half a second later.
                    UpdateRunning(now, startFraction: leavesReset ? TicksPerSecond / 2 : 0);
                    UpdateIrqFlag();
                    break;
                }
            case RegisterB:
                Sync(now);
                if ((value & BSet) != 0)
                    value &= unchecked((byte)~BUpdateEnable); // SET clears UIE on the MC146818.
                _cmos[RegisterB] = value;
                UpdateRunning(now, startFraction: 0);
                UpdateIrqFlag(); // IRQF is PF.PIE + AF.AIE + UF.UIE: enabling an already-flagged source raises it.
                break;
            case RegisterC:
            case RegisterD:
                break; // Read-only.
            default:
                _cmos[index] = value;
                break;
        }
    }

    private void UpdateRunning(long now, long startFraction)
    {
        bool shouldRun = (_cmos[RegisterB] & BSet) == 0 && DividerRunning;
        if (shouldRun == _clockRunning)
            return;
        if (!shouldRun)
        {
            StoreClockRegisters(CalendarTicks(now));
        }
        else
        {
            _calendarBaseTicks = ParseClockRegisters() + startFraction;
            _calendarBaseTimestamp = now;
        }
        _clockRunning = shouldRun;
        _lastSync = now;
    }

    private long CalendarTicks(long timestamp) =>
        _calendarBaseTicks + TimeMath.ScaleFloor(timestamp - _calendarBaseTimestamp, TicksPerSecond, _frequency);

    private long DividerCycles(long timestamp) => TimeMath.ScaleFloor(timestamp - _dividerEpoch, DividerHz, _frequency);

    /// <summary>The periodic interrupt fires when bit <c>shift</c> of the divider cycle count changes; -1 if off.</summary>
    private int PeriodicShift()
    {
        int rate = _cmos[RegisterA] & ARateMask;
        if (rate == 0 || !DividerRunning)
            return -1;
        // Rates 1 and 2 alias 8 and 9 (256 and 128 Hz) with a 32.768 kHz base; rate n is 65536 >> n Hz.
        return rate <= 2 ? rate + 6 : rate - 1;
    }

    private bool UpdateInProgress(long now) => _clockRunning && UpdateInProgressAt(CalendarTicks(now));

    private static bool UpdateInProgressAt(long calendarTicks) => calendarTicks % TicksPerSecond >= TicksPerSecond - UpdateInProgressLead.Ticks;

    /// <summary>Sets the register C flags for everything that happened since the last sync.</summary>
    private void Sync(long now)
    {
        if (now <= _lastSync)
            return;
        byte flags = 0;
        int shift = PeriodicShift();
        if (shift >= 0 && DividerCycles(now) >> shift != DividerCycles(_lastSync) >> shift)
            flags |= CPeriodic;
        if (_clockRunning)
        {
            long s0 = CalendarTicks(_lastSync) / TicksPerSecond;
            long s1 = CalendarTicks(now) / TicksPerSecond;
            if (s1 > s0)
            {
                flags |= CUpdateEnded;
                if (AlarmMatchesBetween(s0, s1))
                    flags |= CAlarm;
            }
        }
        _lastSync = now;
        _cmos[RegisterC] |= flags;
        UpdateIrqFlag();
    }

    /// <summary>True if the alarm matched at any second boundary in (s0, s1]. A day covers every possible match.</summary>
    private bool AlarmMatchesBetween(long s0, long s1)
    {
        for (long s = Math.Max(s0 + 1, s1 - 86_399); s <= s1; s++)
        {
            var t = new DateTime(s * TicksPerSecond);
            if (AlarmFieldMatches(_cmos[SecondsAlarm], FormatField(Seconds, t)) &&
                AlarmFieldMatches(_cmos[MinutesAlarm], FormatField(Minutes, t)) &&
                AlarmFieldMatches(_cmos[HoursAlarm], FormatField(Hours, t)))
                return true;
        }
        return false;
    }

    private static bool AlarmFieldMatches(byte alarm, byte actual) =>
        (alarm & AlarmDontCare) == AlarmDontCare || alarm == actual;

    private void UpdateIrqFlag()
    {
        byte c = _cmos[RegisterC];
        bool irqf = (c & _cmos[RegisterB] & (CPeriodic | CAlarm | CUpdateEnded)) != 0;
        _cmos[RegisterC] = irqf ? (byte)(c | CIrqFlag) : (byte)(c & ~CIrqFlag);
        if (irqf && !_irqLevel)
            CountInterrupt((byte)(c & _cmos[RegisterB]));
        SetIrqLevel(irqf);
    }

    /// <summary>A rising edge of IRQ 8: counted under each source that is flagged and enabled (they can coincide).</summary>
    private void CountInterrupt(byte sources)
    {
        if ((sources & CPeriodic) != 0) Metrics.PeriodicInterrupts++;
        if ((sources & CAlarm) != 0) Metrics.AlarmInterrupts++;
        if ((sources & CUpdateEnded) != 0) Metrics.UpdateInterrupts++;
    }

    private void SetIrqLevel(bool level)
    {
        if (level == _irqLevel)
            return;
        _irqLevel = level;
        _host?.SetIrq(_irq, level);
    }

    public TimeSpan? NextDeadline
    {
        get
        {
            // Once IRQF is set the line stays high until register C is read: nothing new to deliver.
            if (_host == null || (_cmos[RegisterC] & CIrqFlag) != 0)
                return null;
            // Measured from the last sync, so an event the host has not yet collected reads as due now.
            long now = Now();
            long best = long.MaxValue;
            int shift = PeriodicShift();
            if (shift >= 0 && (_cmos[RegisterB] & BPeriodicEnable) != 0)
            {
                long next = ((DividerCycles(_lastSync) >> shift) + 1) << shift;
                best = Math.Min(best, _dividerEpoch + TimeMath.ScaleCeiling(next, _frequency, DividerHz));
            }
            if (_clockRunning && (_cmos[RegisterB] & (BUpdateEnable | BAlarmEnable)) != 0)
            {
                long nextSecond = (CalendarTicks(_lastSync) / TicksPerSecond + 1) * TicksPerSecond;
                best = Math.Min(best, _calendarBaseTimestamp + TimeMath.ScaleCeiling(nextSecond - _calendarBaseTicks, _frequency, TicksPerSecond));
            }
            return best == long.MaxValue ? null : TimeMath.TimestampsToTimeSpan(best - now, _frequency);
        }
    }

    public void Advance() => Sync(Now());

    private long Now() => Host.Time.GetTimestamp();

    private byte ToRegister(int value) => Binary ? (byte)value : Bcd.FromBinary(value);

    private int FromRegister(byte value) => Binary ? value : Bcd.ToBinary(value);

    private byte FormatField(int index, DateTime t) => index switch
    {
        Seconds => ToRegister(t.Second),
        Minutes => ToRegister(t.Minute),
        Hours => Hour24
            ? ToRegister(t.Hour)
            : (byte)(ToRegister(t.Hour % 12 == 0 ? 12 : t.Hour % 12) | (t.Hour >= 12 ? 0x80 : 0)),
        Weekday => ToRegister((int)t.DayOfWeek + 1), // 1 = Sunday.
        DayOfMonth => ToRegister(t.Day),
        Month => ToRegister(t.Month),
        Year => ToRegister(t.Year % 100),
        Century => ToRegister(t.Year / 100),
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    private void StoreClockRegisters(long ticks)
    {
        var t = new DateTime(ticks);
        foreach (int index in (ReadOnlySpan<int>)[Seconds, Minutes, Hours, Weekday, DayOfMonth, Month, Year, Century])
            _cmos[index] = FormatField(index, t);
    }

    /// <summary>The clock registers as a time, clamping nonsense (guests may write any byte) to the nearest valid value.</summary>
    private long ParseClockRegisters()
    {
        int second = Math.Clamp(FromRegister(_cmos[Seconds]), 0, 59);
        int minute = Math.Clamp(FromRegister(_cmos[Minutes]), 0, 59);
        byte hourRegister = _cmos[Hours];
        int hour = Hour24
            ? FromRegister(hourRegister)
            : FromRegister((byte)(hourRegister & 0x7F)) % 12 + ((hourRegister & 0x80) != 0 ? 12 : 0);
        hour = Math.Clamp(hour, 0, 23);
        int century = Math.Clamp(FromRegister(_cmos[Century]), 0, 99);
        int year = Math.Clamp(century * 100 + Math.Clamp(FromRegister(_cmos[Year]), 0, 99), 1, 9999);
        int month = Math.Clamp(FromRegister(_cmos[Month]), 1, 12);
        int day = Math.Clamp(FromRegister(_cmos[DayOfMonth]), 1, DateTime.DaysInMonth(year, month));
        return new DateTime(year, month, day, hour, minute, second).Ticks;
    }

    public byte[] SaveState()
    {
        var w = new StateWriter();
        SaveState(w);
        return w.Written.ToArray();
    }

    public void SaveState(StateWriter into)
    {
        long now = Now();
        Sync(now);
        into.Restart(StateTag, StateVersion)
            .Bytes(_cmos)
            .Byte(_index)
            .Bool(NmiDisabled)
            .Bool(_clockRunning)
            .Int64(_clockRunning ? CalendarTicks(now) : 0)
            .Int64(DividerCycles(now) % DividerHz);
    }

    public void RestoreState(ReadOnlySpan<byte> state)
    {
        var r = new StateReader(state, Name, StateTag, StateVersion);
        var cmos = r.Bytes(Size);
        if (cmos.Length != Size)
            throw new DeviceStateException($"{Name}: saved CMOS is {cmos.Length} bytes, expected {Size}.");
        byte index = r.Byte();
        bool nmiDisabled = r.Bool();
        bool running = r.Bool();
        long calendarTicks = r.Int64();
        long phase = r.Int64();
        r.End();
        if (running && (calendarTicks < 0 || calendarTicks > DateTime.MaxValue.Ticks))
            throw new DeviceStateException($"{Name}: saved calendar time {calendarTicks} is out of range.");

        cmos.CopyTo(_cmos);
        _index = (byte)(index & 0x7F);
        NmiDisabled = nmiDisabled;
        long now = Now();
        _clockRunning = running;
        _calendarBaseTicks = calendarTicks;
        _calendarBaseTimestamp = now;
        _dividerEpoch = now - TimeMath.ScaleCeiling(Math.Clamp(phase, 0, DividerHz - 1), _frequency, DividerHz);
        _lastSync = now;
        _irqLevel = (_cmos[RegisterC] & CIrqFlag) != 0;
        Host.SetIrq(_irq, _irqLevel);
    }
}
