using Microsoft.Win32.SafeHandles;
using Virt.Cpu.Exits;
using Virt.Monitor.Cli;
using Virt.Monitor.Launch;
using Virt.Monitor.Vm;
using Virt.Pc.Board;

namespace Virt.Monitor.Terminal;

/// <summary>
/// virt's side of the guest console (--serial stdio): the device model prints the guest's output
/// on the stdout it inherits, while virt owns the keyboard: raw terminal mode when stdin is a tty
/// (<see cref="TerminalMode"/>), stdin passed to the device model with Ctrl-A escapes taken out
/// (<see cref="ConsoleInput"/>), and a boot status line on stderr until the guest prints
/// (<see cref="BootProgress"/>). Disposing ends the status line and restores the terminal.
/// </summary>
public sealed class GuestConsole : IDisposable
{
    private readonly RunOptions _o;
    private TerminalMode? _terminal;
    private ConsoleInput? _input;
    private BootProgress? _progress;

    public GuestConsole(RunOptions o) => _o = o;

    /// <summary>Whether virt relays its stdin to the device model (the bundled one, console on stdio, COM1 in it).</summary>
    public bool RelaysInput => _o.Serial == "stdio" && _o.PlacementOf(PcBoard.Com1.Name) == Placement.DeviceModel;

    /// <summary>Whether virt feeds its stdin to COM1 itself (console on stdio, COM1 placed in the monitor).</summary>
    public bool RelaysInputToMonitor => _o.Serial == "stdio" && _o.PlacementOf(PcBoard.Com1.Name) == Placement.Monitor;

    /// <summary>The exit handler the CPU should use: <paramref name="router"/>, behind the status line when stderr is a terminal.</summary>
    public IExitHandler Wrap(IExitHandler router, Func<long> instructions)
    {
        if (_o.Quiet || Console.IsErrorRedirected || _o.Serial != "stdio") return router;
        _progress = new BootProgress(router, instructions);
        return _progress;
    }

    /// <summary>Starts the keyboard relay to a device model started with a redirected stdin.</summary>
    public void ConnectInput(DeviceModelProcess dm, Action quit)
    {
        if (dm.StandardInput is { } toDm) ConnectInput(toDm, quit);
    }

    /// <summary>Starts the keyboard relay to <paramref name="toDevice"/> (a device model's stdin, or COM1 in the monitor).</summary>
    public void ConnectInput(Stream toDevice, Action quit)
    {
        Stream toDm = toDevice;
        if (_input is not null)
        {
            // A restarted or swapped-in device model: the one keyboard pump now feeds it.
            _input.Retarget(toDm);
            return;
        }
        _terminal = TerminalMode.EnterRawIfTerminal();
        if (_terminal is not null && !_o.Quiet) Console.Error.WriteLine("virt: console on this terminal; Ctrl-A X quits, Ctrl-A H for help");
        // fd 0 itself: Console.OpenStandardInput() on a terminal hands out whole lines (after Enter)
        // through .NET's line editor, which would hold back Ctrl-A X and every keystroke.
        var stdin = new FileStream(new SafeFileHandle(0, ownsHandle: false), FileAccess.Read, bufferSize: 0);
        _input = new ConsoleInput(stdin, toDm, escapes: _terminal is not null, quit);
        _input.Start();
    }

    /// <summary>The guest printed without an exit (COM1 in its firmware, docs/firmware-reflection.md): the status line ends before the output.</summary>
    public void GuestPrinted() => _progress?.Stop();

    public void Dispose()
    {
        _progress?.Dispose();
        _terminal?.Dispose();
        _terminal = null;
    }
}
