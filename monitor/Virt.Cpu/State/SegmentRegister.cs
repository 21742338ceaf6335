namespace Virt.Cpu.State;

/// <summary>
/// A segment register with its hidden descriptor cache. <see cref="Attributes"/> uses the VMX
/// access-rights layout: bits 0-7 are the descriptor's access byte (type, S, DPL, P), bits 12-15
/// its flags nibble (AVL, L, D/B, G). <see cref="Limit"/> is the byte-granular effective limit.
/// </summary>
public struct SegmentRegister
{
    public ushort Selector;
    public uint Base;
    public uint Limit;
    public ushort Attributes;

    public readonly int Type => Attributes & 0xF;
    public readonly bool IsSystem => (Attributes & 0x10) == 0;
    public readonly int Dpl => (Attributes >> 5) & 3;
    public readonly bool Present => (Attributes & 0x80) != 0;
    public readonly bool Big => (Attributes & 0x4000) != 0;
    public readonly bool IsCode => (Attributes & 0x18) == 0x18;
    public readonly bool IsConforming => IsCode && (Attributes & 4) != 0;
    public readonly bool IsExpandDown => (Attributes & 0x1C) == 0x14;
    public readonly bool Readable => !IsCode || (Attributes & 2) != 0;
    public readonly bool Writable => (Attributes & 0x1A) == 0x12;

    /// <summary>A real-mode (or freshly reset) segment: base = selector * 16, 64 KiB limit, read/write data.</summary>
    public static SegmentRegister RealMode(ushort selector, ushort attributes = 0x93) =>
        new() { Selector = selector, Base = (uint)selector << 4, Limit = 0xFFFF, Attributes = attributes };

    public override readonly string ToString() => $"{Selector:X4} base={Base:X8} limit={Limit:X8} attr={Attributes:X4}";
}
