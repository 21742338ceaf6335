namespace Virt.Cpu.Fpu;

/// <summary>Result of an x87 comparison; maps onto C3/C2/C0 and onto ZF/PF/CF for FCOMI.</summary>
public enum X87Comparison
{
    Greater,
    Less,
    Equal,
    Unordered,
}
