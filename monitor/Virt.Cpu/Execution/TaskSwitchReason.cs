namespace Virt.Cpu.Execution;

/// <summary>What started a hardware task switch: decides busy bits, NT and the back link.</summary>
internal enum TaskSwitchReason
{
    Jump,
    Call,
    Iret,
    Interrupt,
}
