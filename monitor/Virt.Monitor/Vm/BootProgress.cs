using System.Diagnostics;
using Virt.Cpu.Exits;

namespace Virt.Monitor.Vm;

/// <summary>
/// A status line on stderr while the guest boots and has not printed anything yet (a bzImage
/// spends seconds decompressing in silence): elapsed time and instructions, redrawn in place.
/// It sits in the exit path as a pass-through exit handler so that the first write to the serial
/// console (0x3F8) or the debug console (0xE9) erases the line on the VCPU thread *before* the
/// exit reaches the device model that prints it: the guest's output never shares a line with it.
/// Only used when stderr is a terminal.
/// </summary>
public sealed class BootProgress : IExitHandler, IDisposable
{
    private const ushort Com1Data = 0x3F8, DebugConsole = 0xE9;

    private readonly IExitHandler _inner;
    private readonly Func<long> _instructions;
    private readonly Stopwatch _wall = Stopwatch.StartNew();
    private readonly object _lock = new();
    private readonly Thread _thread;
    private volatile bool _active = true;
    private bool _drawn;

    public BootProgress(IExitHandler inner, Func<long> instructions)
    {
        _inner = inner;
        _instructions = instructions;
        _thread = new Thread(Draw) { Name = "boot-progress", IsBackground = true };
        _thread.Start();
    }

    private void Draw()
    {
        while (_active)
        {
            Thread.Sleep(250);
            long instructions = _instructions();
            // Not before the guest runs: virt's own start-up messages come first, on their own lines.
            if (instructions == 0) continue;
            lock (_lock)
            {
                if (!_active) return;
                Console.Error.Write($"\r\x1b[Kvirt: booting, no console output yet: {_wall.Elapsed.TotalSeconds:F1} s, {instructions / 1e6:F0} M instructions");
                Console.Error.Flush();
                _drawn = true;
            }
        }
    }

    /// <summary>Erases the line for good (first guest output, or the end of the run).</summary>
    public void Stop()
    {
        if (!_active) return;
        lock (_lock)
        {
            _active = false;
            if (_drawn) Console.Error.Write("\r\x1b[K");
            Console.Error.Flush();
        }
    }

    public void Dispose() => Stop();

    private void Watch(ushort port)
    {
        if (_active && port is Com1Data or DebugConsole) Stop();
    }

    public uint PortIn(ushort port, int size) => _inner.PortIn(port, size);

    public void PortOut(ushort port, int size, uint value)
    {
        Watch(port);
        _inner.PortOut(port, size, value);
    }

    public void PortInString(ushort port, int size, Span<byte> data) => _inner.PortInString(port, size, data);

    public void PortOutString(ushort port, int size, ReadOnlySpan<byte> data)
    {
        Watch(port);
        _inner.PortOutString(port, size, data);
    }

    /// <summary>Forwarded, or the device model's string I/O assist would be lost whenever stderr is a terminal.</summary>
    public bool TryAssistString(in StringIoAssist chunk)
    {
        if (chunk.Out) Watch(chunk.Port);
        return _inner.TryAssistString(chunk);
    }

    public ulong MmioRead(ulong address, int size) => _inner.MmioRead(address, size);

    public void MmioWrite(ulong address, int size, ulong value) => _inner.MmioWrite(address, size, value);
}
