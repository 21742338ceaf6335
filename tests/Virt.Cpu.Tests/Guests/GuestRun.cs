using Virt.Cpu.Execution;
using Virt.Cpu.Tests.Support;
using Virt.Pc.Boot;

namespace Virt.Cpu.Tests.Guests;

/// <summary>
/// Boots a compiled guest with the Multiboot loader on a real Cpu and runs it to its exit: the
/// status byte written to port 0xF4 (isa-debug-exit), after which the guest halts with IF clear.
/// </summary>
internal sealed record GuestRun(string Output, int? ExitStatus, StopReason Stop, long Instructions, string? Shutdown)
{
    public const ushort ExitPort = 0xF4;

    public static GuestRun Boot(string name, string commandLine = "", long maxInstructions = 2_000_000_000, long ramBytes = 32 << 20)
    {
        byte[] kernel = File.ReadAllBytes(GuestBuild.Guest(name));
        using var m = new TestMachine(ramBytes);
        MultibootLoader.Load(m.Cpu, kernel, commandLine, []);
        StopReason stop;
        do stop = m.Cpu.Run(Math.Min(100_000_000, maxInstructions - m.Cpu.InstructionsRetired));
        while (stop == StopReason.BudgetExhausted && m.Cpu.InstructionsRetired < maxInstructions);
        int? status = m.Outs.Where(o => o.Port == ExitPort).Select(o => (int?)(byte)o.Value).LastOrDefault();
        return new GuestRun(m.Console.ToString(), status, stop, m.Cpu.InstructionsRetired, m.Cpu.ShutdownReason);
    }

    /// <summary>A one-paragraph account for assertion messages.</summary>
    public string Describe() =>
        $"stop={Stop} exit={(ExitStatus is int s ? s.ToString() : "none")} instructions={Instructions} shutdown={Shutdown ?? "-"}\noutput:\n{Output}";
}
