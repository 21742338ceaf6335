using System.Text;

namespace Virt.Shared.Control;

// Device counters (protocol 1.3, docs/control-protocol.md): MetricsRequest is an empty frame
// (EmptyMessage.Frame(MessageType.MetricsRequest)); MetricsReport answers it.

/// <summary>One counter of one device: e.g. ("com1", "rx_overruns", 3).</summary>
public sealed record CounterValue(string Device, string Counter, ulong Value);

/// <summary>
/// A device model's answer to MetricsRequest: u16 n, then n × {str device, str counter, u64 value}.
/// Names are 1-64 bytes of UTF-8; at most <see cref="MaxCounters"/> triples, so a report always fits one frame.
/// </summary>
public sealed record MetricsReport(IReadOnlyList<CounterValue> Counters)
{
    public const int MaxCounters = 256;
    public const int MaxNameBytes = 64;

    public ReadOnlyMemory<byte> ToFrame()
    {
        if (Counters.Count > MaxCounters) throw new ArgumentException($"{Counters.Count} counters, at most {MaxCounters} in a report");
        var w = new PayloadWriter(MessageType.MetricsReport).U16((ushort)Counters.Count);
        foreach (CounterValue c in Counters)
        {
            CheckName(c.Device);
            CheckName(c.Counter);
            w.Str(c.Device).Str(c.Counter).U64(c.Value);
        }
        return w.ToFrame();
    }

    public static MetricsReport Read(ReadOnlySpan<byte> p)
    {
        var r = new PayloadReader(p);
        int n = r.U16();
        if (n > MaxCounters) throw new ProtocolException($"MetricsReport with {n} counters, at most {MaxCounters}");
        var list = new List<CounterValue>(n);
        for (int i = 0; i < n; i++) list.Add(new CounterValue(r.Str(), r.Str(), r.U64()));
        return new MetricsReport(list);
    }

    private static void CheckName(string name)
    {
        int bytes = Encoding.UTF8.GetByteCount(name);
        if (bytes is 0 or > MaxNameBytes) throw new ArgumentException($"counter and device names are 1-{MaxNameBytes} bytes: '{name}'");
    }
}
