namespace Virt.Monitor.Terminal;

/// <summary>
/// The guest console's keyboard: reads virt's stdin on its own thread and passes the bytes to the
/// device model's stdin (which feeds COM1's receiver), except QEMU's escape sequences, which
/// are virt's own: Ctrl-A X quits, Ctrl-A H lists them, Ctrl-A Ctrl-A sends one Ctrl-A.
/// Escapes are only looked for when stdin is a terminal; piped input passes through untouched.
/// At end of input the device model's stdin is closed, as the guest would see a hang-up.
/// </summary>
public sealed class ConsoleInput
{
    public const byte EscapeKey = 0x01; // Ctrl-A

    private readonly Stream _input;
    private volatile Stream _toDeviceModel;
    private readonly bool _escapes;
    private readonly Action _quit;
    private bool _afterEscape;

    public ConsoleInput(Stream input, Stream toDeviceModel, bool escapes, Action quit)
    {
        _input = input;
        _toDeviceModel = toDeviceModel;
        _escapes = escapes;
        _quit = quit;
    }

    /// <summary>Sends the keyboard to another device model's stdin from now on (restart or swap).</summary>
    public void Retarget(Stream toDeviceModel) => _toDeviceModel = toDeviceModel;

    public void Start() => new Thread(Pump) { Name = "console-input", IsBackground = true }.Start();

    private void Pump()
    {
        var buffer = new byte[256];
        var output = new List<byte>(256);
        try
        {
            while (true)
            {
                int n = _input.Read(buffer);
                if (n <= 0) break;
                output.Clear();
                if (!Filter(buffer.AsSpan(0, n), output)) return;
                if (output.Count == 0) continue;
                Stream target = _toDeviceModel;
                try
                {
                    target.Write(output.ToArray());
                    target.Flush();
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException) { } // that model is gone: a replacement (restart, swap) gets the next keys
            }
        }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
        try { _toDeviceModel.Dispose(); } catch (IOException) { }
    }

    /// <summary>Applies the escapes to one chunk; false when the user quit.</summary>
    public bool Filter(ReadOnlySpan<byte> chunk, List<byte> output)
    {
        foreach (byte b in chunk)
        {
            if (!_escapes) { output.Add(b); continue; }
            if (!_afterEscape)
            {
                if (b == EscapeKey) _afterEscape = true;
                else output.Add(b);
                continue;
            }
            _afterEscape = false;
            switch (b)
            {
                case (byte)'x' or (byte)'X':
                    _quit();
                    return false;
                case EscapeKey:
                    output.Add(EscapeKey);
                    break;
                case (byte)'h' or (byte)'H' or (byte)'?':
                    Console.Error.Write("\r\nC-a x    quit virt\r\nC-a C-a  send C-a to the guest\r\nC-a h    this help\r\n");
                    break;
                default:
                    // Not an escape after all: both keys go to the guest.
                    output.Add(EscapeKey);
                    output.Add(b);
                    break;
            }
        }
        return true;
    }
}
