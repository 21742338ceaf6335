using Iced.Intel;

namespace Virt.Cpu.Execution;

/// <summary>Feeds Iced's decoder from a small buffer (an instruction that straddles two pages).</summary>
internal sealed class BytesCodeReader(byte[] bytes, int length) : CodeReader
{
    private int _pos;

    public override int ReadByte() => _pos < length ? bytes[_pos++] : -1;
}
