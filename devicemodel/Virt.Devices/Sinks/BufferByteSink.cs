using System.Text;

namespace Virt.Devices.Sinks;

/// <summary>Collects output in memory: for tests and for hosts that scan guest output (e.g. for a boot banner).</summary>
public sealed class BufferByteSink : IByteSink
{
    private readonly List<byte> _bytes = new();

    public IReadOnlyList<byte> Bytes => _bytes;

    public void Write(byte value) => _bytes.Add(value);

    public string Text => Encoding.Latin1.GetString(_bytes.ToArray());

    public void Clear() => _bytes.Clear();
}
