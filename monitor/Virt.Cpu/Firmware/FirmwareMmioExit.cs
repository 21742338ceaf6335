namespace Virt.Cpu.Firmware;

/// <summary>
/// Thrown from the MMU's slow path when an access to MMIO must go to the firmware (or, from inside
/// a handler, is a nested exit). It unwinds the instruction like a guest fault, so the instruction
/// has not retired and EIP still points at it; the run loop catches it. One instance per CPU.
/// </summary>
internal sealed class FirmwareMmioExit : Exception
{
    public uint Address { get; private set; }
    public int Size { get; private set; }
    public bool Write { get; private set; }
    public ulong Value { get; private set; }

    public FirmwareMmioExit Set(uint address, int size, bool write, ulong value)
    {
        Address = address;
        Size = size;
        Write = write;
        Value = value;
        return this;
    }
}
