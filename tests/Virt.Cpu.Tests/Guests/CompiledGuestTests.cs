using Virt.Cpu.Execution;

namespace Virt.Cpu.Tests.Guests;

/// <summary>
/// The C guests in guests/, compiled with gcc -m32 at test time, booted through the Multiboot
/// loader, run to their isa-debug-exit write. Where a guest is also built for the host, the two
/// outputs must match byte for byte.
/// The host twin is the independent reference: the host CPU's own ALU and x87 computing the same C
/// source. It is built as an x86-64 program (guests/build.sh), not -m32, because a host kernel
/// without IA32 emulation cannot execute i386 programs ("Exec format error") and the tests must run
/// on every host. It stays a faithful reference: -mfpmath=387 puts every float and double operation
/// on the x87 with the same excess precision as the i686 build, the guests use only fixed-width
/// integer types, and their inline assembly reads flags at the native width.
/// </summary>
public class CompiledGuestTests
{
    [Fact]
    public void IntegerWorkoutMatchesHost()
    {
        string expected = GuestBuild.RunHost("intwork");
        var run = GuestRun.Boot("intwork");
        Assert.True(run.ExitStatus == 0 && run.Stop == StopReason.Halted, run.Describe());
        Assert.Equal(expected, run.Output);
    }

    [Fact]
    public void PagingFaultsAndExceptionsAreHandledAndResumed()
    {
        var run = GuestRun.Boot("paging");
        Assert.True(run.ExitStatus == 0 && run.Stop == StopReason.Halted, run.Describe());
        Assert.DoesNotContain("FAIL", run.Output);
        Assert.Contains("page faults: 4, failures: 0", run.Output);
    }

    [Fact]
    public void FpuWorkoutMatchesHost()
    {
        string expected = GuestBuild.RunHost("fpu");
        var run = GuestRun.Boot("fpu");
        Assert.True(run.ExitStatus == 0 && run.Stop == StopReason.Halted, "x87 guest did not finish (is the FPU implemented?): " + run.Describe());
        Assert.Equal(expected, run.Output);
    }

    [Theory]
    [InlineData("reg", 1000u, 4)]
    [InlineData("mem", 1000u, 8)]
    public void BenchmarkLoopsRetireAFixedCountPerIteration(string mode, uint iterations, int perIteration)
    {
        // The benchmark derives QEMU's MIPS from these counts, so they must be linear in N: the loop
        // retires exactly perIteration each time; printing the result adds a few data-dependent ones.
        var small = GuestRun.Boot("bench", $"mode={mode} iters={iterations}");
        var large = GuestRun.Boot("bench", $"mode={mode} iters={iterations * 3}");
        Assert.True(small.ExitStatus == 0 && large.ExitStatus == 0, small.Describe() + "\n" + large.Describe());
        long extra = large.Instructions - small.Instructions - 2L * iterations * perIteration;
        Assert.True(Math.Abs(extra) < 100, $"{extra} instructions beyond {perIteration} per iteration");
    }
}
