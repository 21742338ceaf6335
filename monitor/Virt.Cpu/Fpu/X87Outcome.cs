namespace Virt.Cpu.Fpu;

/// <summary>What the interpreter must do after <see cref="X87Fpu.Execute"/>.</summary>
public enum X87Outcome
{
    /// <summary>The instruction ran (possibly recording an unmasked exception, reported at the next waiting instruction).</summary>
    Completed,

    /// <summary>Not an x87 instruction this FPU implements (e.g. FXSAVE, FEMMS, Cyrix/287-only forms): raise #UD.</summary>
    InvalidOpcode,
}
