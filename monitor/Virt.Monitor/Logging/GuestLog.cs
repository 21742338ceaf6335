namespace Virt.Monitor.Logging;

/// <summary>
/// The -d log: one line per event, "item: text", to stderr or the -D file. Off by default and free
/// when off: no instance exists, and each place that logs holds a reference that is null unless its
/// item is on, so the cost is that one null check (never formatting) on paths like the exit path.
/// Lines from the VCPU thread and the others are written whole, under a lock.
/// </summary>
public sealed class GuestLog : IDisposable
{
    private readonly TextWriter _writer;
    private readonly bool _ownsWriter;
    private readonly object _lock = new();

    public GuestLog(GuestLogItems items, TextWriter writer, bool ownsWriter)
    {
        Items = items;
        _writer = writer;
        _ownsWriter = ownsWriter;
    }

    public GuestLogItems Items { get; }

    /// <summary>This log when <paramref name="item"/> is on, else null: what a logging site keeps.</summary>
    public GuestLog? For(GuestLogItems item) => (Items & item) != 0 ? this : null;

    /// <summary>Opens the -D file (or stderr); throws IOException and the like for a path that cannot be written.</summary>
    public static GuestLog Open(GuestLogItems items, string? path)
    {
        if (path is null) return new GuestLog(items, Console.Error, ownsWriter: false);
        var w = new StreamWriter(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
        return new GuestLog(items, w, ownsWriter: true);
    }

    public void Write(GuestLogItems item, string text)
    {
        lock (_lock)
        {
            try
            {
                _writer.WriteLine($"{GuestLogItemNames.Name(item)}: {text}");
            }
            catch (IOException)
            {
                // A log that cannot be written (disk full, a closed pipe) must not stop the guest.
            }
            catch (ObjectDisposedException)
            {
                // Written after the VM's end closed the file: too late to matter.
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_ownsWriter) _writer.Dispose();
            else _writer.Flush();
        }
    }
}
