using Iced.Intel;

namespace Virt.Cpu.Execution;

/// <summary>Feeds Iced's decoder from host memory (the rest of one guest page), without copying.</summary>
internal sealed unsafe class PointerCodeReader : CodeReader
{
    private byte* _p;
    private int _left;

    public void Reset(byte* p, int length)
    {
        _p = p;
        _left = length;
    }

    public override int ReadByte()
    {
        if (_left <= 0) return -1;
        _left--;
        return *_p++;
    }
}
