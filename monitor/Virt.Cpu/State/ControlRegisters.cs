namespace Virt.Cpu.State;

/// <summary>CR0 and CR4 bits the engine acts on.</summary>
public static class ControlBits
{
    public const uint CR0_PE = 1u << 0, CR0_MP = 1u << 1, CR0_EM = 1u << 2, CR0_TS = 1u << 3, CR0_ET = 1u << 4,
        CR0_NE = 1u << 5, CR0_WP = 1u << 16, CR0_AM = 1u << 18, CR0_NW = 1u << 29, CR0_CD = 1u << 30, CR0_PG = 1u << 31;

    public const uint CR4_VME = 1u << 0, CR4_PVI = 1u << 1, CR4_TSD = 1u << 2, CR4_DE = 1u << 3, CR4_PSE = 1u << 4,
        CR4_PAE = 1u << 5, CR4_MCE = 1u << 6, CR4_PGE = 1u << 7, CR4_PCE = 1u << 8, CR4_OSFXSR = 1u << 9;
}
