using Virt.Cpu.Tests.Linux;
using Virt.Cpu.Translation;
using Xunit.Abstractions;

namespace Virt.Cpu.Tests.Translation;

/// <summary>
/// The native backend on real code: the Linux kernel's decompressor and early boot run on two PCs,
/// one compiling blocks at their second execution and one interpreting everything, in lockstep
/// chunks of virtual time. While interrupts are off the two must agree on every register and on
/// the retired count at every chunk boundary. (With interrupts on they may legitimately differ: a
/// compiled loop notices interrupts at its chain points, not after every block.)
/// Skipped unless the Linux guest has been fetched.
/// </summary>
public sealed class LinuxTranslatorTests(ITestOutputHelper output)
{
    [LinuxGuestFact]
    public void Decompressor_runs_the_same_native_and_interpreted() => CompareWithInterpreter(CpuEngine.Native, threshold: 2);

    private void CompareWithInterpreter(CpuEngine engine, int threshold)
    {
        byte[] kernel = File.ReadAllBytes(GuestFiles.Kernel);
        byte[] initrd = File.ReadAllBytes(GuestFiles.SmokeInitramfs);
        long limit = long.TryParse(Environment.GetEnvironmentVariable("VIRT_LINUX_TRANSLATOR_DIFF_INSTRUCTIONS"), out var l) ? l : 30_000_000;
        const long Chunk = 1_000_000;
        using var translated = new InProcessPc(nanosecondsPerInstruction: 10);
        using var interpreted = new InProcessPc(nanosecondsPerInstruction: 10);
        translated.Cpu.Engine = engine;
        translated.Cpu.TranslationThreshold = threshold;
        interpreted.Cpu.Engine = CpuEngine.Interpreter;
        translated.LoadLinux(kernel, initrd, LinuxBootTests.CommandLine);
        interpreted.LoadLinux(kernel, initrd, LinuxBootTests.CommandLine);

        for (long target = Chunk; target <= limit; target += Chunk)
        {
            translated.Run(TimeSpan.FromMinutes(5), pc => pc.Cpu.InstructionsRetired >= target, sliceInstructions: Chunk);
            interpreted.Run(TimeSpan.FromMinutes(5), pc => pc.Cpu.InstructionsRetired >= target, sliceInstructions: Chunk);
            string a = Describe(translated.Cpu), b = Describe(interpreted.Cpu);
            Assert.True(a == b, $"diverged by {target:N0} instructions:\n translated  {a}\n interpreted {b}");
            if ((interpreted.Cpu.State.Eflags & 0x200) != 0) break; // interrupts on: delivery points may differ from here
        }
        Assert.True(translated.Cpu.BlocksTranslated > 0, $"{engine}: nothing was translated");
        Assert.True(translated.Cpu.BlocksTranslated > 0);
        output.WriteLine($"agreed for {translated.Cpu.InstructionsRetired:N0} instructions; {translated.Cpu.BlocksTranslated} blocks translated in {translated.Cpu.TranslationTime.TotalMilliseconds:F0} ms");
    }

    private static string Describe(Cpu cpu)
    {
        var s = cpu.State;
        return $"retired={cpu.InstructionsRetired} eip={s.Eip:X8} eax={s.Eax:X8} ebx={s.Ebx:X8} ecx={s.Ecx:X8} edx={s.Edx:X8} esi={s.Esi:X8} edi={s.Edi:X8} ebp={s.Ebp:X8} esp={s.Esp:X8} fl={s.Eflags:X}";
    }
}
