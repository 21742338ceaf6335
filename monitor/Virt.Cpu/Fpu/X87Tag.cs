namespace Virt.Cpu.Fpu;

/// <summary>The 2-bit register tags of the full tag word (FSTENV/FSAVE image and <see cref="X87Fpu.TagWord"/>).</summary>
public enum X87Tag
{
    Valid = 0,
    Zero = 1,
    Special = 2,
    Empty = 3,
}
