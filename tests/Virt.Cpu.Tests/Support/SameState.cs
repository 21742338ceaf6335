namespace Virt.Cpu.Tests.Support;

/// <summary>Asserts that the native backend left the state the reference interpreter did.</summary>
public static class SameState
{
    /// <summary>The eight general registers, each named in the failure.</summary>
    public static void Registers(TestMachine reference, TestMachine native)
    {
        for (int r = 0; r < 8; r++)
            Assert.True(reference.Cpu.State[r] == native.Cpu.State[r], $"reg {r}: reference {reference.Cpu.State[r]:X8} native {native.Cpu.State[r]:X8}");
    }
}
