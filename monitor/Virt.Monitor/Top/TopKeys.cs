using System.Runtime.InteropServices;

namespace Virt.Monitor.Top;

/// <summary>
/// The keys of the live view, read from the terminal between refreshes: s cycles the sort order
/// (r, t, n pick one), space freezes and unfreezes the view, q (or Ctrl-C) quits.
/// </summary>
public sealed class TopKeys(TopSort sort)
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);
    private volatile bool _quit;

    public TopSort Sort { get; private set; } = sort;
    public bool Frozen { get; private set; }
    public bool Quit => _quit;

    /// <summary>Ctrl-C ends the view like q (the terminal is left as the view drew it, not mid-frame).</summary>
    public IDisposable CatchInterrupt() => PosixSignalRegistration.Create(PosixSignal.SIGINT, c =>
    {
        c.Cancel = true;
        _quit = true;
    });

    /// <summary>Waits until <paramref name="until"/> or a key that changes the view; true if one did.</summary>
    public async Task<bool> WaitAsync(DateTime until)
    {
        while (!_quit && DateTime.UtcNow < until)
        {
            while (Console.KeyAvailable)
                if (Handle(Console.ReadKey(intercept: true))) return true;
            TimeSpan left = until - DateTime.UtcNow;
            await Task.Delay(left < Poll ? (left > TimeSpan.Zero ? left : TimeSpan.Zero) : Poll);
        }
        return false;
    }

    private bool Handle(ConsoleKeyInfo k)
    {
        switch (char.ToLowerInvariant(k.KeyChar))
        {
            case 'q': _quit = true; return true;
            case ' ': Frozen = !Frozen; return true;
            case 's': Sort = (TopSort)(((int)Sort + 1) % 3); return true;
            case 'r': Sort = TopSort.Rate; return true;
            case 't': Sort = TopSort.Total; return true;
            case 'n': Sort = TopSort.Name; return true;
            default: return false;
        }
    }
}
