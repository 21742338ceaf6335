namespace Virt.Cpu.Tests.Instructions;

/// <summary>Every native backend test with the lookups that save the guest's flags (PUSHFQ/POPFQ), the form for hosts without BMI2.</summary>
public sealed class NativeTranslatorWithSavedFlagsTests : NativeTranslatorTests
{
    protected override void Configure(Cpu cpu) => cpu.NativeFlaglessLookups = false;
}
