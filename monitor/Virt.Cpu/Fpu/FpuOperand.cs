namespace Virt.Cpu.Fpu;

/// <summary>
/// The memory operand of the x87 instruction being executed: segment-relative, through the
/// CPU's checked accessors (limits, paging, faults). One instance per CPU, rebound per instruction.
/// </summary>
internal sealed class FpuOperand(Cpu cpu) : IX87Memory
{
    private int _seg;
    private uint _ea;

    public FpuOperand Bind(int seg, uint ea)
    {
        _seg = seg;
        _ea = ea;
        return this;
    }

    public byte Read8(uint offset) => cpu.Read8(_seg, _ea + offset);
    public ushort Read16(uint offset) => cpu.Read16(_seg, _ea + offset);
    public uint Read32(uint offset) => cpu.Read32(_seg, _ea + offset);
    public ulong Read64(uint offset) => cpu.Read64(_seg, _ea + offset);
    public void Write8(uint offset, byte value) => cpu.Write8(_seg, _ea + offset, value);
    public void Write16(uint offset, ushort value) => cpu.Write16(_seg, _ea + offset, value);
    public void Write32(uint offset, uint value) => cpu.Write32(_seg, _ea + offset, value);
    public void Write64(uint offset, ulong value) => cpu.Write64(_seg, _ea + offset, value);
}
