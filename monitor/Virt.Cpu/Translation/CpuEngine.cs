namespace Virt.Cpu.Translation;

/// <summary>Which engine runs hot guest code (cold code is always interpreted).</summary>
public enum CpuEngine
{
    /// <summary>Every block through the compact-form interpreter.</summary>
    Interpreter,
    /// <summary>Blocks compiled to x86-64 host code, guest instructions copied 1:1 (Translation/Native).</summary>
    Native,
}
