using Virt.Devices.Bus;
using Virt.Devices.Common;
using Virt.Devices.Metrics;
using Virt.Devices.Sinks;
using Virt.Devices.State;
using Virt.Devices.Timing;
using static Virt.Devices.Serial.UartRegisters;

namespace Virt.Devices.Serial;

/// <summary>
/// A National 16550A UART as found at COM1-COM4 on a PC.
/// <para>
/// Transmission is instantaneous: a byte written to THR goes to the sink within the same port
/// write, so the transmitter is idle again (THRE/TEMT set, THRE interrupt pending) when the write
/// returns. The TX FIFO only fills while the host has paused the transmitter for back-pressure
/// (<see cref="TransmitterPaused"/>). Received bytes arrive through <see cref="Receive(ReadOnlySpan{byte})"/>.
/// </para>
/// <para>
/// The IRQ line is a level that follows "an interrupt is identified in IIR", gated by MCR.OUT2 as
/// on a PC (OUT2 drives the ISA IRQ buffer) and forced off in loopback, where the OUT pins go inactive.
/// The character timeout interrupt is timed: a host must call <see cref="Advance"/> at
/// <see cref="NextDeadline"/> for it to be raised while the guest is not touching the port.
/// </para>
/// </summary>
public sealed partial class Uart16550 : BytePortDevice, IStatefulDevice, ITimedDevice, ICrashRecovery, IMeasuredDevice
{
    public const ushort Com1Port = 0x3F8, Com2Port = 0x2F8, Com3Port = 0x3E8, Com4Port = 0x2E8;
    public const int Com1Irq = 4, Com2Irq = 3;

    /// <summary>The UART's reference clock divided by 16: the baud rate at divisor 1.</summary>
    public const int BaseBaud = 115200;

    private const string StateTag = "U550";
    private const ushort StateVersion = 1;

    private readonly BusRange[] _ranges;
    private readonly ushort _base;
    private readonly int _irq;
    private readonly string _name;
    private readonly ByteFifo _rx = new();
    private readonly ByteFifo _tx = new();
    private IDeviceHost? _host;
    private IByteSink _sink;

    private byte _ier, _lcr, _mcr, _lsr, _scr, _fcr;
    private byte _msrDeltas;
    private byte _modemStatus;      // MSR bits 7-4 as currently seen (from inputs or from loopback).
    private byte _modemInputs;      // The host-side modem lines (MSR bits 7-4) when not in loopback.
    private ushort _divisor;
    private byte _lastReceived;
    private bool _thrInterruptPending;
    private bool _timeoutPending;
    private long _lastRxActivity;   // Host timestamp of the last RX FIFO push or pop, for the character timeout.
    private bool _irqLevel;
    private bool _transmitterPaused;

    /// <param name="basePort">0x3F8 for COM1, 0x2F8 for COM2.</param>
    /// <param name="irq">ISA IRQ line: 4 for COM1, 3 for COM2.</param>
    /// <param name="sink">Receives transmitted bytes; null discards them.</param>
    /// <param name="name">Device name for claims and messages.</param>
    public Uart16550(ushort basePort = Com1Port, int irq = Com1Irq, IByteSink? sink = null, string? name = null)
    {
        if (irq is < 0 or > 15)
            throw new ArgumentOutOfRangeException(nameof(irq), irq, "ISA IRQ lines are 0-15.");
        _base = basePort;
        _irq = irq;
        _sink = sink ?? NullByteSink.Instance;
        _name = name ?? $"uart@{basePort:x}";
        _ranges = [BusRange.Ports(basePort, 8)];
        Metrics = new Uart16550Metrics(_name);
        Reset();
    }

    public override string Name => _name;

    public override IReadOnlyList<BusRange> Ranges => _ranges;

    public int Irq => _irq;

    /// <summary>This UART's counters (bytes, overruns, missed reads, interrupts); not part of its saved state.</summary>
    public Uart16550Metrics Metrics { get; }

    IDeviceMetrics IMeasuredDevice.Metrics => Metrics;

    /// <summary>The IRQ level this UART currently drives (after OUT2 gating).</summary>
    public bool IrqLevel => _irqLevel;

    /// <summary>Where transmitted bytes go. Can be swapped at any time (e.g. when a console client connects).</summary>
    public IByteSink Sink
    {
        get => _sink;
        set => _sink = value ?? NullByteSink.Instance;
    }

    /// <summary>
    /// Host back-pressure: while true, bytes the guest transmits stay in the TX FIFO (THRE clear)
    /// instead of reaching the sink; setting it false drains them and raises the THRE interrupt.
    /// </summary>
    public bool TransmitterPaused
    {
        get => _transmitterPaused;
        set
        {
            _transmitterPaused = value;
            if (!value)
                DrainTransmitter();
        }
    }

    /// <summary>How many bytes <see cref="Receive(ReadOnlySpan{byte})"/> can take now without an overrun.</summary>
    public int ReceiveCapacity => IsLoopback ? 0 : _rx.Capacity - _rx.Count;

    /// <summary>Programmed baud rate (0 if the divisor is 0, which real UARTs treat as unusable).</summary>
    public int BaudRate => _divisor == 0 ? 0 : BaseBaud / _divisor;

    private bool FifoEnabled => (_fcr & FcrEnable) != 0;

    private bool IsLoopback => (_mcr & McrLoop) != 0;

    private bool Dlab => (_lcr & LcrDlab) != 0;

    private int TriggerLevel => (_fcr >> 6) switch { 0 => 1, 1 => 4, 2 => 8, _ => 14 };

    public override void Attach(IDeviceHost host)
    {
        _host = host;
        _lastRxActivity = host.Time.GetTimestamp();
        UpdateIrq();
    }

    /// <summary>Power-on / master reset state.</summary>
    public void Reset()
    {
        _ier = 0;
        _lcr = 0;
        _mcr = 0;
        _lsr = LsrThre | LsrTemt;
        _scr = 0;
        _fcr = 0;
        _divisor = 12; // 9600 baud: a sane value for the timeout until software programs it.
        _rx.Reset(1);
        _tx.Reset(1);
        // A terminal is "connected": CTS, DSR and DCD asserted, as QEMU reports for a plain chardev.
        _modemInputs = MsrCts | MsrDsr | MsrDcd;
        _modemStatus = _modemInputs;
        _msrDeltas = 0;
        _thrInterruptPending = false;
        _timeoutPending = false;
        _lastReceived = 0;
        if (_host != null)
            UpdateIrq();
    }

    /// <summary>
    /// Bytes arriving on the serial line (an interactive console's keystrokes). Bytes beyond the
    /// FIFO's room are lost with an overrun error, as on the wire; use <see cref="ReceiveCapacity"/>
    /// to avoid that. In loopback mode the line input is disconnected and nothing is taken.
    /// Returns how many bytes were stored.
    /// </summary>
    public int Receive(ReadOnlySpan<byte> data)
    {
        if (IsLoopback)
            return 0;
        int stored = 0;
        foreach (byte b in data)
        {
            if (ReceiveByte(b))
                stored++;
        }
        Metrics.RxBytes += stored;
        UpdateIrq();
        return stored;
    }

    /// <summary>One received byte; see <see cref="Receive(ReadOnlySpan{byte})"/>.</summary>
    public bool Receive(byte value) => Receive([value]) == 1;

    /// <summary>
    /// Sets the modem status inputs (what the far end drives). Changes set the MSR delta bits and
    /// can raise the modem status interrupt; ignored for MSR purposes while in loopback.
    /// </summary>
    public void SetModemInputs(bool cts, bool dsr, bool ri, bool dcd)
    {
        _modemInputs = (byte)((cts ? MsrCts : 0) | (dsr ? MsrDsr : 0) | (ri ? MsrRi : 0) | (dcd ? MsrDcd : 0));
        if (!IsLoopback)
            SetModemStatus(_modemInputs);
        UpdateIrq();
    }

    public TimeSpan? NextDeadline
    {
        get
        {
            if (_host == null || !TimeoutCanFire)
                return null;
            long due = _lastRxActivity + TimeoutLength;
            return TimeMath.TimestampsToTimeSpan(due - _host.Time.GetTimestamp(), _host.Time.TimestampFrequency);
        }
    }

    public void Advance()
    {
        RefreshTimeout();
        UpdateIrq();
    }

    protected override byte ReadByte(ushort port)
    {
        switch (port - _base)
        {
            case Rbr:
                return Dlab ? (byte)_divisor : ReadRbr();
            case Ier:
                return Dlab ? (byte)(_divisor >> 8) : _ier;
            case Iir:
                return ReadIir();
            case Lcr:
                return _lcr;
            case Mcr:
                return _mcr;
            case Lsr:
                {
                    byte value = _lsr;
                    // Reading LSR clears the error bits (and with them the line status interrupt).
                    _lsr &= unchecked((byte)~(LsrErrors | LsrFifoError));
                    UpdateIrq();
                    return value;
                }
            case Msr:
                {
                    byte value = (byte)(_modemStatus | _msrDeltas);
                    _msrDeltas = 0;
                    UpdateIrq();
                    return value;
                }
            default:
                return _scr;
        }
    }

    protected override void WriteByte(ushort port, byte value)
    {
        switch (port - _base)
        {
            case Thr:
                if (Dlab)
                    _divisor = (ushort)((_divisor & 0xFF00) | value);
                else
                    WriteThr(value);
                break;
            case Ier:
                if (Dlab)
                    _divisor = (ushort)((_divisor & 0x00FF) | (value << 8));
                else
                    WriteIer(value);
                break;
            case Fcr:
                WriteFcr(value);
                break;
            case Lcr:
                _lcr = value;
                break;
            case Mcr:
                WriteMcr(value);
                break;
            case Lsr:
            case Msr:
                break; // Factory test registers: writes have no defined effect.
            default:
                _scr = value;
                break;
        }
    }

    private byte ReadRbr()
    {
        if (_rx.IsEmpty)
            Metrics.MissedReads++;
        else
            _lastReceived = _rx.Dequeue();
        if (_rx.IsEmpty)
            _lsr &= unchecked((byte)~LsrDr);
        // Any read from the FIFO clears a pending timeout and restarts its timer.
        _timeoutPending = false;
        _lastRxActivity = Now();
        UpdateIrq();
        return _lastReceived;
    }

    private byte ReadIir()
    {
        RefreshTimeout();
        byte id = ComputeIir();
        if (id == IirThri)
        {
            // Reading IIR while it reports THRE is what acknowledges the THRE interrupt.
            _thrInterruptPending = false;
            UpdateIrq();
        }
        return (byte)(id | (FifoEnabled ? IirFifoEnabled : 0));
    }

    private void WriteThr(byte value)
    {
        if (!_tx.TryEnqueue(value) && !FifoEnabled)
        {
            // 16450 mode: a second write before the first left overwrites THR.
            _tx.Clear();
            _tx.TryEnqueue(value);
        }
        _thrInterruptPending = false;
        _lsr &= unchecked((byte)~(LsrThre | LsrTemt));
        UpdateIrq();
        DrainTransmitter();
    }

    private void WriteIer(byte value)
    {
        byte old = _ier;
        _ier = (byte)(value & 0x0F);
        // Enabling THRI while THR is empty raises the THRE interrupt again, even if it had been
        // acknowledged by an IIR read. Not in the datasheet, but real parts do it and Linux's
        // UART_BUG_THRE probe and Windows' serial driver rely on it (they toggle IER 0 -> THRI).
        if (((old ^ _ier) & IerThri) != 0)
            _thrInterruptPending = (_ier & IerThri) != 0 && (_lsr & LsrThre) != 0;
        UpdateIrq();
    }

    private void WriteFcr(byte value)
    {
        bool enable = (value & FcrEnable) != 0;
        if (enable != FifoEnabled)
        {
            // Switching between 16450 and FIFO mode empties both FIFOs.
            _rx.Reset(enable ? ByteFifo.MaxCapacity : 1);
            ClearRx();
            ClearTx(resize: enable ? ByteFifo.MaxCapacity : 1);
        }
        if (!enable)
        {
            _fcr = 0;
        }
        else
        {
            if ((value & FcrClearRx) != 0)
                ClearRx();
            if ((value & FcrClearTx) != 0)
                ClearTx(resize: 0);
            _fcr = (byte)(value & (FcrEnable | FcrDma | FcrTriggerMask));
        }
        UpdateIrq();
    }

    private void ClearRx()
    {
        _rx.Clear();
        _lsr &= unchecked((byte)~(LsrDr | LsrFifoError));
        _timeoutPending = false;
    }

    private void ClearTx(int resize)
    {
        bool hadData = !_tx.IsEmpty;
        if (resize > 0)
            _tx.Reset(resize);
        else
            _tx.Clear();
        _lsr |= LsrThre | LsrTemt;
        if (hadData)
            _thrInterruptPending = true; // THRE became set: that is the THRE interrupt's trigger.
    }

    private void WriteMcr(byte value)
    {
        Metrics.ModemControlWrites++;
        _mcr = (byte)(value & 0x1F);
        SetModemStatus(IsLoopback ? LoopedModemStatus() : _modemInputs);
        UpdateIrq();
    }

    /// <summary>In loopback the modem outputs feed the inputs: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD.</summary>
    private byte LoopedModemStatus() => (byte)(
        ((_mcr & McrRts) != 0 ? MsrCts : 0) |
        ((_mcr & McrDtr) != 0 ? MsrDsr : 0) |
        ((_mcr & McrOut1) != 0 ? MsrRi : 0) |
        ((_mcr & McrOut2) != 0 ? MsrDcd : 0));

    private void SetModemStatus(byte status)
    {
        byte changed = (byte)(status ^ _modemStatus);
        if ((changed & MsrCts) != 0) _msrDeltas |= MsrDcts;
        if ((changed & MsrDsr) != 0) _msrDeltas |= MsrDdsr;
        if ((changed & MsrDcd) != 0) _msrDeltas |= MsrDdcd;
        // TERI is the trailing edge of RI only: the ring has ended.
        if ((_modemStatus & MsrRi) != 0 && (status & MsrRi) == 0) _msrDeltas |= MsrTeri;
        _modemStatus = status;
    }

    private void DrainTransmitter()
    {
        if (_transmitterPaused || _tx.IsEmpty)
            return;
        while (!_tx.IsEmpty)
        {
            byte b = _tx.Dequeue();
            if (IsLoopback)
            {
                ReceiveByte(b);
                Metrics.LoopbackBytes++;
            }
            else
            {
                _sink.Write(b);
                Metrics.TxBytes++;
            }
        }
        _lsr |= LsrThre | LsrTemt;
        _thrInterruptPending = true;
        UpdateIrq();
    }

    /// <summary>Stores a byte in the receiver; false if it was lost to an overrun.</summary>
    private bool ReceiveByte(byte value)
    {
        bool stored = true;
        if (_rx.IsFull)
        {
            Metrics.RxOverruns++;
            _lsr |= LsrOe;
            if (FifoEnabled)
            {
                // The FIFO keeps its contents; the character in the shift register is lost.
                stored = false;
            }
            else
            {
                // 16450: the new character overwrites RBR.
                _rx.Clear();
                _rx.TryEnqueue(value);
            }
        }
        else
        {
            _rx.TryEnqueue(value);
        }
        _lsr |= LsrDr;
        _lastRxActivity = Now();
        return stored;
    }

    private bool TimeoutCanFire => FifoEnabled && !_rx.IsEmpty && !_timeoutPending && (_ier & IerRdi) != 0;

    /// <summary>Four character times at the programmed rate and frame, in host timestamp units.</summary>
    private long TimeoutLength
    {
        get
        {
            // Frame length in half bits: start + data + parity + stop (1.5 stop bits with 5 data bits).
            int dataBits = 5 + (_lcr & LcrWordLengthMask);
            int halfBits = 2 * (1 + dataBits + ((_lcr & LcrParity) != 0 ? 1 : 0));
            halfBits += (_lcr & LcrStop) == 0 ? 2 : dataBits == 5 ? 3 : 4;
            long divisor = _divisor == 0 ? 65536 : _divisor;
            long frequency = _host!.Time.TimestampFrequency;
            return TimeMath.ScaleCeiling(4L * halfBits * divisor, frequency, 2L * BaseBaud);
        }
    }

    private void RefreshTimeout()
    {
        if (_host == null || !FifoEnabled || _rx.IsEmpty || _timeoutPending)
            return;
        if (Now() - _lastRxActivity >= TimeoutLength)
            _timeoutPending = true;
    }

    /// <summary>The highest-priority pending interrupt, in IIR encoding (without the FIFO bits).</summary>
    private byte ComputeIir()
    {
        if ((_ier & IerRlsi) != 0 && (_lsr & LsrErrors) != 0)
            return IirRlsi;
        if ((_ier & IerRdi) != 0 && (_lsr & LsrDr) != 0 && (!FifoEnabled || _rx.Count >= TriggerLevel))
            return IirRdi;
        if ((_ier & IerRdi) != 0 && _timeoutPending && !_rx.IsEmpty)
            return IirCti;
        if ((_ier & IerThri) != 0 && _thrInterruptPending)
            return IirThri;
        if ((_ier & IerMsi) != 0 && _msrDeltas != 0)
            return IirMsi;
        return IirNoInt;
    }

    private void UpdateIrq()
    {
        bool pending = ComputeIir() != IirNoInt;
        bool level = pending && (_mcr & McrOut2) != 0 && !IsLoopback;
        if (level == _irqLevel || _host == null)
            return;
        _irqLevel = level;
        if (level)
            Metrics.Interrupts++;
        _host.SetIrq(_irq, level);
    }

    private long Now() => _host?.Time.GetTimestamp() ?? 0;

    public byte[] SaveState()
    {
        var w = new StateWriter();
        SaveState(w);
        return w.Written.ToArray();
    }

    public void SaveState(StateWriter into)
    {
        long sinceActivity = _host == null ? 0 : Math.Max(0, Now() - _lastRxActivity);
        long sinceActivityTicks = _host == null ? 0 : TimeMath.ScaleFloor(sinceActivity, TimeSpan.TicksPerSecond, _host.Time.TimestampFrequency);
        into.Restart(StateTag, StateVersion)
            .Byte(_ier).Byte(_lcr).Byte(_mcr).Byte(_lsr).Byte(_scr).Byte(_fcr)
            .Byte(_msrDeltas).Byte(_modemStatus).Byte(_modemInputs)
            .UInt16(_divisor).Byte(_lastReceived)
            .Bool(_thrInterruptPending).Bool(_timeoutPending).Bool(_transmitterPaused)
            .Int64(sinceActivityTicks);
        _rx.CopyTo(into.BytesToFill(_rx.Count));
        _tx.CopyTo(into.BytesToFill(_tx.Count));
    }

    public void RestoreState(ReadOnlySpan<byte> state)
    {
        var r = new StateReader(state, Name, StateTag, StateVersion);
        byte ier = r.Byte(), lcr = r.Byte(), mcr = r.Byte(), lsr = r.Byte(), scr = r.Byte(), fcr = r.Byte();
        byte msrDeltas = r.Byte(), modemStatus = r.Byte(), modemInputs = r.Byte();
        ushort divisor = r.UInt16();
        byte lastReceived = r.Byte();
        bool thrPending = r.Bool(), timeoutPending = r.Bool(), paused = r.Bool();
        long sinceActivityTicks = r.Int64();
        int capacity = (fcr & FcrEnable) != 0 ? ByteFifo.MaxCapacity : 1;
        var rx = r.Bytes(capacity);
        var tx = r.Bytes(capacity);
        r.End();

        _ier = (byte)(ier & 0x0F);
        _lcr = lcr;
        _mcr = (byte)(mcr & 0x1F);
        _lsr = lsr;
        _scr = scr;
        _fcr = fcr;
        _msrDeltas = (byte)(msrDeltas & MsrDeltas);
        _modemStatus = (byte)(modemStatus & 0xF0);
        _modemInputs = (byte)(modemInputs & 0xF0);
        _divisor = divisor;
        _lastReceived = lastReceived;
        _thrInterruptPending = thrPending;
        _timeoutPending = timeoutPending;
        _transmitterPaused = paused;
        _rx.Reset(capacity);
        foreach (byte b in rx)
            _rx.TryEnqueue(b);
        _tx.Reset(capacity);
        foreach (byte b in tx)
            _tx.TryEnqueue(b);
        if (_host != null)
        {
            _lastRxActivity = Now() - TimeMath.ScaleFloor(sinceActivityTicks, _host.Time.TimestampFrequency, TimeSpan.TicksPerSecond);
            // Drive the line to the restored level unconditionally: the new host's line state is unknown.
            _irqLevel = ComputeIir() != IirNoInt && (_mcr & McrOut2) != 0 && !IsLoopback;
            _host.SetIrq(_irq, _irqLevel);
        }
    }

    /// <summary>
    /// After a crash snapshot: the guest may have written more since, and its driver waits for the
    /// THR-empty interrupt of bytes the dead model already sent. Transmitted bytes never stay here
    /// (the sink has them), so THR is empty: LSR says so, and with THRI enabled the interrupt is
    /// pending again, as a real 16550 raises it whenever THRI is enabled with THR empty.
    /// </summary>
    public void RecoverAfterCrash()
    {
        if (_tx.IsEmpty) _lsr |= LsrThre | LsrTemt;
        if ((_ier & IerThri) != 0 && (_lsr & LsrThre) != 0) _thrInterruptPending = true;
        if (_host != null)
        {
            _irqLevel = ComputeIir() != IirNoInt && (_mcr & McrOut2) != 0 && !IsLoopback;
            _host.SetIrq(_irq, _irqLevel);
        }
    }
}
