using Virt.Devices.Bus;
using Virt.Devices.Common;
using Virt.Devices.Metrics;

namespace Virt.Devices.Input;

/// <summary>
/// The PC/AT keyboard controller (8042) at 0x60 (data) and 0x64 (status/command), with a PS/2
/// keyboard behind it and no mouse. Enough for Linux's i8042 and atkbd probing: the command byte,
/// controller self-test (0xAA answers 0x55), port tests, the output port (A20 gate, reset line),
/// the 0xFE reset pulse, and the keyboard's reset/identify/LED/typematic/scan-set commands. The
/// auxiliary (mouse) port exists, as on any PS/2 controller, with nothing plugged in: its loopback
/// (0xD3) echoes as aux data, and a byte sent to the absent mouse (0xD4) times out (status bit 6,
/// data 0xFE), so Linux's probes get their answers at once instead of waiting out a timeout.
/// The host watches <see cref="ResetRequested"/> and <see cref="A20Changed"/>.
/// </summary>
public sealed class I8042Controller : BytePortDevice, IAccessPolicies, IMeasuredDevice
{
    /// <summary>The reset pulse and the A20 gate (output port) are platform events.</summary>
    public IReadOnlyList<RangePolicy> Policies => s_ranges.Select(r => new RangePolicy(r, AccessPolicy.PlatformEvents)).ToArray();

    public const ushort DataPort = 0x60, StatusPort = 0x64;
    public const int KeyboardIrq = 1, AuxIrq = 12;

    // Status register bits.
    private const byte StatusOutputFull = 0x01, StatusSystem = 0x04, StatusCommand = 0x08, StatusUnlocked = 0x10, StatusAuxData = 0x20, StatusTimeout = 0x40;
    // Command byte bits.
    private const byte CmdKbdInt = 0x01, CmdAuxInt = 0x02, CmdSystem = 0x04, CmdKbdDisabled = 0x10, CmdAuxDisabled = 0x20;
    // Output port bits.
    private const byte OutResetDeasserted = 0x01, OutA20 = 0x02;

    private static readonly BusRange[] s_ranges = [BusRange.Ports(DataPort, 1), BusRange.Ports(StatusPort, 1)];

    private readonly Queue<(byte Value, bool Aux, bool Timeout)> _output = new();
    private IDeviceHost? _host;
    private byte _commandByte = CmdKbdInt | CmdSystem | 0x40; // as a BIOS leaves it: translation on, keyboard IRQ on
    private byte _outputPort = OutResetDeasserted | OutA20;
    private byte _pendingCommand;      // controller command awaiting its data byte, 0 if none
    private byte _pendingKeyboard;     // keyboard command awaiting its argument, 0 if none
    private bool _lastWriteWasCommand;
    private bool _kbdIrq, _auxIrq;

    public override string Name => "i8042";

    /// <summary>This controller's counters (commands, resets, A20 switches).</summary>
    public I8042Metrics Metrics { get; } = new("i8042");

    IDeviceMetrics IMeasuredDevice.Metrics => Metrics;

    public override IReadOnlyList<BusRange> Ranges => s_ranges;

    /// <summary>The guest asked for a system reset (command 0xFE, or the output port's reset bit cleared).</summary>
    public event Action? ResetRequested;

    /// <summary>The A20 gate bit of the output port changed; the argument is the new state (true = enabled).</summary>
    public event Action<bool>? A20Changed;

    public bool A20Enabled => (_outputPort & OutA20) != 0;

    public byte CommandByte => _commandByte;

    public override void Attach(IDeviceHost host) => _host = host;

    /// <summary>Scan codes from the host's keyboard, queued as if typed (set 1 when translation is on).</summary>
    public void KeyboardInput(ReadOnlySpan<byte> scanCodes)
    {
        if ((_commandByte & CmdKbdDisabled) != 0) return;
        foreach (byte b in scanCodes) _output.Enqueue((b, false, false));
        UpdateIrq();
    }

    protected override byte ReadByte(ushort port)
    {
        if (port == StatusPort)
        {
            int s = StatusUnlocked | ((_commandByte & CmdSystem) != 0 ? StatusSystem : 0) | (_lastWriteWasCommand ? StatusCommand : 0);
            if (_output.Count > 0)
            {
                s |= StatusOutputFull;
                if (_output.Peek().Aux) s |= StatusAuxData;
                if (_output.Peek().Timeout) s |= StatusTimeout;
            }
            return (byte)s;
        }
        if (_output.Count == 0) return 0x00;
        byte v = _output.Dequeue().Value;
        // Reading the buffer drops the IRQ line; the next byte raises a fresh edge for the PIC.
        if (_kbdIrq) { _kbdIrq = false; _host?.SetIrq(KeyboardIrq, false); }
        if (_auxIrq) { _auxIrq = false; _host?.SetIrq(AuxIrq, false); }
        UpdateIrq();
        return v;
    }

    protected override void WriteByte(ushort port, byte value)
    {
        if (port == StatusPort)
        {
            _lastWriteWasCommand = true;
            ControllerCommand(value);
        }
        else
        {
            _lastWriteWasCommand = false;
            DataWrite(value);
        }
        UpdateIrq();
    }

    private void ControllerCommand(byte cmd)
    {
        Metrics.Commands++;
        _pendingCommand = 0;
        switch (cmd)
        {
            case 0x20: Reply(_commandByte); break;                  // read command byte
            case 0x60:
            case 0xD1:
            case 0xD2:
            case 0xD3:
            case 0xD4:  // these take a data byte
                _pendingCommand = cmd;
                break;
            case 0xA7: _commandByte |= CmdAuxDisabled; break;
            case 0xA8: _commandByte &= unchecked((byte)~CmdAuxDisabled); break;
            case 0xA9: Reply(0xFF); break;                          // aux port test: no mouse wired (clock line stuck)
            case 0xAA:                                              // controller self-test
                _commandByte |= CmdSystem;
                Reply(0x55);
                break;
            case 0xAB: Reply(0x00); break;                          // keyboard port test: OK
            case 0xAD: _commandByte |= CmdKbdDisabled; break;
            case 0xAE: _commandByte &= unchecked((byte)~CmdKbdDisabled); break;
            case 0xC0: Reply(0xBF); break;                          // input port: keyboard not inhibited
            case 0xD0: Reply(_outputPort); break;                   // read output port
            default:
                if (cmd >= 0xF0)
                {
                    // Pulse output lines whose bits are 0 in the low nibble; bit 0 is the CPU reset.
                    if ((cmd & 0x01) == 0) RequestReset();
                }
                break;
        }
    }

    private void DataWrite(byte value)
    {
        byte pending = _pendingCommand;
        _pendingCommand = 0;
        switch (pending)
        {
            case 0x60: _commandByte = value; return;
            case 0xD1: WriteOutputPort(value); return;
            case 0xD2: _output.Enqueue((value, false, false)); return;
            case 0xD3: _output.Enqueue((value, true, false)); return;   // aux loopback: back as if from the aux port
            case 0xD4: _output.Enqueue((0xFE, true, true)); return;     // to the mouse: none answers, the controller times out
        }
        KeyboardCommand(value);
    }

    private void WriteOutputPort(byte value)
    {
        bool a20Was = A20Enabled;
        _outputPort = value;
        if (A20Enabled != a20Was)
        {
            Metrics.A20Changes++;
            A20Changed?.Invoke(A20Enabled);
        }
        if ((value & OutResetDeasserted) == 0) RequestReset();
    }

    private void RequestReset()
    {
        Metrics.ResetRequests++;
        ResetRequested?.Invoke();
    }

    private void KeyboardCommand(byte value)
    {
        Metrics.KeyboardCommands++;
        // Writing to the keyboard re-enables its interface, as the real controller does.
        _commandByte &= unchecked((byte)~CmdKbdDisabled);
        if (_pendingKeyboard != 0)
        {
            byte cmd = _pendingKeyboard;
            _pendingKeyboard = 0;
            if (cmd == 0xF0 && value == 0) { Reply(0xFA); Reply(0x02); return; } // report scan code set 2
            Reply(0xFA);
            return;
        }
        switch (value)
        {
            case 0xED:
            case 0xF0:
            case 0xF3: // LEDs, scan code set, typematic: argument follows
                _pendingKeyboard = value;
                Reply(0xFA);
                break;
            case 0xEE: Reply(0xEE); break;   // echo
            case 0xF2: Reply(0xFA); Reply(0xAB); Reply(0x83); break; // identify: MF2 keyboard
            case 0xFF: _output.Clear(); Reply(0xFA); Reply(0xAA); break; // reset + self-test passed
            default: Reply(0xFA); break;     // F4 enable, F5 disable, F6 defaults, ...: acknowledge
        }
    }

    private void Reply(byte value) => _output.Enqueue((value, false, false));

    private void UpdateIrq()
    {
        bool kbd = false, aux = false;
        if (_output.Count > 0)
        {
            if (_output.Peek().Aux) aux = (_commandByte & CmdAuxInt) != 0;
            else kbd = (_commandByte & CmdKbdInt) != 0;
        }
        if (kbd != _kbdIrq) { _kbdIrq = kbd; _host?.SetIrq(KeyboardIrq, kbd); }
        if (aux != _auxIrq) { _auxIrq = aux; _host?.SetIrq(AuxIrq, aux); }
    }
}
