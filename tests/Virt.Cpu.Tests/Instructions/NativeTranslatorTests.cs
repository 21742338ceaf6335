using Virt.Cpu.Translation;

namespace Virt.Cpu.Tests.Instructions;

/// <summary>
/// Every translator test against the native backend (guest instructions copied 1:1 into x86-64
/// host code): random streams and loops, every condition after every producer, budget stops,
/// stop requests, page faults inside loops and self-modifying code, all compared with the
/// reference executor.
/// </summary>
public class NativeTranslatorTests : TranslatorTests
{
    protected override CpuEngine Engine => CpuEngine.Native;
    protected override bool UndefinedFlagsAreHosts => true;
}

/// <summary>The same with the lookups that save the guest's flags (PUSHFQ/POPFQ), the form for hosts without BMI2.</summary>
public sealed class NativeTranslatorWithSavedFlagsTests : NativeTranslatorTests
{
    protected override void Configure(Cpu cpu) => cpu.NativeFlaglessLookups = false;
}
