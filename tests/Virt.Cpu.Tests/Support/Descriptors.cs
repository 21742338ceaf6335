namespace Virt.Cpu.Tests.Support;

/// <summary>Builds x86 descriptors and gates as the guest would write them.</summary>
public static class Descriptors
{
    /// <summary>A code/data/system segment descriptor. access = P|DPL|S|type byte; flags = G|D/B|L|AVL nibble.</summary>
    public static ulong Segment(uint baseAddr, uint limit, byte access, byte flags = 0xC)
    {
        ulong d = limit & 0xFFFF;
        d |= (ulong)(baseAddr & 0xFF_FFFF) << 16;
        d |= (ulong)access << 40;
        d |= (ulong)((limit >> 16) & 0xF) << 48;
        d |= (ulong)(flags & 0xF) << 52;
        d |= (ulong)(baseAddr >> 24) << 56;
        return d;
    }

    public static ulong Code32(int dpl = 0) => Segment(0, 0xFFFFF, (byte)(0x9A | (dpl << 5)));
    public static ulong Data32(int dpl = 0) => Segment(0, 0xFFFFF, (byte)(0x92 | (dpl << 5)));

    /// <summary>An interrupt (type 0xE) or trap (0xF) gate, or a call gate (0xC), or a task gate (5).</summary>
    public static ulong Gate(ushort selector, uint offset, int type, int dpl = 0, int paramCount = 0)
    {
        ulong d = offset & 0xFFFF;
        d |= (ulong)selector << 16;
        d |= (ulong)(paramCount & 0x1F) << 32;
        d |= (ulong)(0x80 | (dpl << 5) | type) << 40;
        d |= (ulong)(offset >> 16) << 48;
        return d;
    }

    /// <summary>A 32-bit available TSS descriptor.</summary>
    public static ulong Tss32(uint baseAddr, uint limit = 0x67) => Segment(baseAddr, limit, 0x89, 0);
}
