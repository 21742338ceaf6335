namespace Virt.Cpu.State;

/// <summary>Segment register numbers in the x86 encoding order (the sreg field of ModRM).</summary>
public static class SegmentIndex
{
    public const int ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;
    public static readonly string[] Names = ["es", "cs", "ss", "ds", "fs", "gs"];
}
