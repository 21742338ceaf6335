using Virt.Cpu.Translation;

namespace Virt.Cpu.Tests.Instructions;

/// <summary>
/// Every translator test against the native backend (guest instructions copied 1:1 into x86-64
/// host code): random streams and loops, every condition after every producer, budget stops,
/// stop requests, page faults inside loops and self-modifying code, all compared with the
/// reference executor.
/// </summary>
public sealed class NativeTranslatorTests : TranslatorTests
{
    protected override CpuEngine Engine => CpuEngine.Native;
    protected override bool UndefinedFlagsAreHosts => true;
}
