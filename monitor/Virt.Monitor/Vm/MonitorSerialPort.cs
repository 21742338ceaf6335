using Microsoft.Win32.SafeHandles;
using Virt.Devices.Serial;
using Virt.Devices.Sinks;
using Virt.Pc.Board;

namespace Virt.Monitor.Vm;

/// <summary>
/// COM1 placed in the monitor (`virt run --place com1=monitor`, docs/placements.md): the same 16550A
/// virt-dm hosts (<see cref="Uart16550"/>, at the board's port and line), routed by the exit router as
/// a local device, so every register access is served on the VCPU thread at the exit, with no round
/// trip, as the PIC and PIT are. This class is the UART's two ends outside the guest: its output goes
/// where --serial says (stdout, a file, nowhere), buffered and pushed out at each newline and at every
/// slice boundary (<see cref="Service"/>), so a prompt without a newline still appears; its input,
/// virt's keyboard (<see cref="Terminal.ConsoleInput"/> writes into <see cref="Input"/>), is queued by
/// the console thread and handed to the receiver by the VCPU thread, the only thread that touches the UART.
/// </summary>
public sealed class MonitorSerialPort : IDisposable
{
    // How much typed input may wait for the guest to drain the FIFO before the keyboard thread waits too.
    private const int MaxPendingInput = 64 * 1024;

    private readonly Stream? _console;
    private readonly object _inputLock = new();
    private readonly List<byte> _pendingInput = new();
    private readonly List<byte> _output = new(256);
    private volatile bool _inputPending;
    private bool _outputPending;

    /// <param name="serial">--serial: stdio, file:PATH or none (checked by the command line).</param>
    public MonitorSerialPort(string serial)
    {
        _console = serial switch
        {
            "none" => null,
            "stdio" => new FileStream(new SafeFileHandle(1, ownsHandle: false), FileAccess.Write, bufferSize: 0),
            _ => new FileStream(serial["file:".Length..], FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 0),
        };
        Uart = new Uart16550(PcIoPorts.Com1, IsaIrq.Com1, _console is null ? NullByteSink.Instance : new ConsoleSink(this), PcBoard.Com1.Name);
        Input = new InputStream(this);
    }

    /// <summary>The device the platform hosts and the router routes to.</summary>
    public Uart16550 Uart { get; }

    /// <summary>Where the keyboard's bytes go (any thread); they reach the receiver at the next <see cref="Service"/>.</summary>
    public Stream Input { get; }

    /// <summary>Called (on the keyboard's thread) when input has arrived, so a halted VCPU wakes to take it.</summary>
    public Action? InputArrived { get; set; }

    /// <summary>VCPU thread, between slices and while halted: typed bytes into the receiver as far as the FIFO takes them; pending output out.</summary>
    public void Service()
    {
        if (_inputPending)
        {
            lock (_inputLock)
            {
                int n = Math.Min(Uart.ReceiveCapacity, _pendingInput.Count);
                if (n > 0)
                {
                    Uart.Receive(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_pendingInput)[..n]);
                    _pendingInput.RemoveRange(0, n);
                }
                _inputPending = _pendingInput.Count > 0;
            }
        }
        if (_outputPending) FlushOutput();
    }

    private void Write(byte value)
    {
        _output.Add(value);
        _outputPending = true;
        if (value == (byte)'\n' || _output.Count >= 4096) FlushOutput();
    }

    private void FlushOutput()
    {
        _outputPending = false;
        if (_console is null || _output.Count == 0) return;
        try
        {
            _console.Write(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_output));
        }
        catch (IOException)
        {
            // The console is gone (a closed pipe): the bytes go nowhere, as on a disconnected line.
        }
        _output.Clear();
    }

    private void Enqueue(ReadOnlySpan<byte> bytes)
    {
        while (true)
        {
            lock (_inputLock)
            {
                if (_pendingInput.Count < MaxPendingInput)
                {
                    _pendingInput.AddRange(bytes);
                    _inputPending = true;
                    break;
                }
            }
            // The guest is not reading: back-pressure on the keyboard, as virt-dm's receiver does.
            Thread.Sleep(1);
        }
        InputArrived?.Invoke();
    }

    /// <summary>The end of the run: output still buffered goes out (VCPU stopped).</summary>
    public void Dispose()
    {
        FlushOutput();
        _console?.Dispose(); // stdout's stream does not own descriptor 1: only a --serial file is closed
    }

    private sealed class ConsoleSink(MonitorSerialPort port) : IByteSink
    {
        public void Write(byte value) => port.Write(value);
    }

    /// <summary>The keyboard's side: a write-only stream (what <see cref="Terminal.ConsoleInput"/> writes to a device model's stdin).</summary>
    private sealed class InputStream(MonitorSerialPort port) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => port.Enqueue(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer) => port.Enqueue(buffer);
    }
}
