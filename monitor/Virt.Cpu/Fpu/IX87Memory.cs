namespace Virt.Cpu.Fpu;

/// <summary>
/// The memory operand of one x87 instruction, as the interpreter resolved it (segment, limit,
/// paging all applied). Offsets are bytes from the operand's first byte. Accesses may throw the
/// engine's guest-fault exception; the FPU must not have changed its state before the last read
/// that can fault (loads), and stores are performed before the FPU state is committed.
/// </summary>
public interface IX87Memory
{
    byte Read8(uint offset);
    ushort Read16(uint offset);
    uint Read32(uint offset);
    ulong Read64(uint offset);
    void Write8(uint offset, byte value);
    void Write16(uint offset, ushort value);
    void Write32(uint offset, uint value);
    void Write64(uint offset, ulong value);
}
