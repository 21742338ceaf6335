namespace Virt.Cpu.Fpu;

/// <summary>Control word RC field (bits 11-10).</summary>
public enum X87RoundingControl
{
    Nearest = 0,
    Down = 1,
    Up = 2,
    TowardZero = 3,
}
