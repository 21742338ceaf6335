using System.Runtime.InteropServices;

namespace Virt.Monitor.Terminal;

/// <summary>
/// Puts the terminal on stdin in raw mode for an interactive guest console (every key goes to the
/// guest: Ctrl-C is the guest's, not a SIGINT) and puts it back exactly as it was. Restored by
/// <see cref="Dispose"/>, and as a fallback on process exit and on an unhandled exception, so
/// every way out of virt leaves a usable terminal (only SIGKILL escapes; `stty sane` then).
/// Output post-processing (OPOST/ONLCR) stays on, as QEMU's stdio console keeps it.
/// </summary>
public sealed partial class TerminalMode : IDisposable
{
    private const int StdinFd = 0;
    private const int TcsaNow = 0;
    // struct termios on Linux (glibc, x86-64 and i386): 4 flag words, c_line, c_cc[32], speeds: 60 bytes.
    private const int TermiosSize = 64;
    private const int OflagOffset = 4;
    private const uint Opost = 0x1, Onlcr = 0x4;

    private readonly byte[] _saved;
    private int _restored;

    private TerminalMode(byte[] saved)
    {
        _saved = saved;
        AppDomain.CurrentDomain.ProcessExit += OnExit;
        AppDomain.CurrentDomain.UnhandledException += OnUnhandled;
    }

    /// <summary>Raw mode if stdin is a terminal; null (nothing to restore) otherwise.</summary>
    public static TerminalMode? EnterRawIfTerminal()
    {
        if (!OperatingSystem.IsLinux() || isatty(StdinFd) != 1) return null;
        var saved = new byte[TermiosSize];
        if (tcgetattr(StdinFd, saved) != 0) return null;
        var raw = (byte[])saved.Clone();
        cfmakeraw(raw);
        uint oflag = BitConverter.ToUInt32(raw, OflagOffset) | Opost | Onlcr;
        BitConverter.TryWriteBytes(raw.AsSpan(OflagOffset), oflag);
        if (tcsetattr(StdinFd, TcsaNow, raw) != 0) return null;
        return new TerminalMode(saved);
    }

    public void Dispose()
    {
        Restore();
        AppDomain.CurrentDomain.ProcessExit -= OnExit;
        AppDomain.CurrentDomain.UnhandledException -= OnUnhandled;
    }

    private void Restore()
    {
        if (Interlocked.Exchange(ref _restored, 1) == 0) tcsetattr(StdinFd, TcsaNow, _saved);
    }

    private void OnExit(object? sender, EventArgs e) => Restore();

    private void OnUnhandled(object? sender, UnhandledExceptionEventArgs e) => Restore();

    [LibraryImport("libc", SetLastError = true)]
    private static partial int isatty(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int tcgetattr(int fd, [Out] byte[] termios);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int tcsetattr(int fd, int optionalActions, byte[] termios);

    [LibraryImport("libc")]
    private static partial void cfmakeraw(byte[] termios);
}
