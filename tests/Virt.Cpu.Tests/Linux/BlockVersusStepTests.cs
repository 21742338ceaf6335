using Xunit.Abstractions;

namespace Virt.Cpu.Tests.Linux;

/// <summary>
/// Differential check on real code: the same kernel run block by block and one instruction at a
/// time must agree on every register at every block boundary. Catches fast-path (compact form)
/// bugs that single-stepping hides. Skipped unless the Linux guest has been fetched.
/// </summary>
public sealed class BlockVersusStepTests(ITestOutputHelper output)
{
    [LinuxGuestFact]
    public void Decompressor_runs_the_same_in_blocks_and_single_steps()
    {
        byte[] kernel = File.ReadAllBytes(GuestFiles.Kernel);
        byte[] initrd = File.ReadAllBytes(GuestFiles.SmokeInitramfs);
        long limit = long.TryParse(Environment.GetEnvironmentVariable("VIRT_LINUX_DIFF_INSTRUCTIONS"), out var l) ? l : 300_000;
        using var blocks = new InProcessPc();
        using var steps = new InProcessPc();
        blocks.LoadLinux(kernel, initrd, LinuxBootTests.CommandLine);
        steps.LoadLinux(kernel, initrd, LinuxBootTests.CommandLine);
        var tracer = new GuestTracer(steps.Cpu, 40);

        while (blocks.Cpu.InstructionsRetired < limit)
        {
            var r = blocks.Cpu.Run(32);
            while (steps.Cpu.InstructionsRetired < blocks.Cpu.InstructionsRetired)
            {
                tracer.Record();
                steps.Cpu.Run(1);
            }
            string a = Describe(blocks.Cpu), b = Describe(steps.Cpu);
            if (a != b)
            {
                foreach (var line in tracer.Lines) output.WriteLine(line);
                Assert.Fail($"diverged at {blocks.Cpu.InstructionsRetired} instructions:\n blocks {a}\n steps  {b}");
            }
            if (r is Execution.StopReason.Shutdown or Execution.StopReason.Halted) break;
        }
        output.WriteLine($"agreed for {blocks.Cpu.InstructionsRetired:N0} instructions");
    }

    private static string Describe(Cpu cpu)
    {
        var s = cpu.State;
        return $"eip={s.Eip:X8} eax={s.Eax:X8} ebx={s.Ebx:X8} ecx={s.Ecx:X8} edx={s.Edx:X8} esi={s.Esi:X8} edi={s.Edi:X8} ebp={s.Ebp:X8} esp={s.Esp:X8} fl={s.Eflags:X}";
    }
}
