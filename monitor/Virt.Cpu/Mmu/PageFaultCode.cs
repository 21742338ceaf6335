namespace Virt.Cpu.Mmu;

/// <summary>Page-fault error code bits, and the access kinds the page walker checks.</summary>
internal static class PageFaultCode
{
    public const uint Present = 1, Write = 2, User = 4, Reserved = 8;
}
