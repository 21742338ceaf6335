using Virt.Cpu.Execution;
using Virt.Cpu.Paravirt;
using Virt.Cpu.State;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;
using P = Virt.Cpu.Tests.Paravirt.ParavirtGuest;

namespace Virt.Cpu.Tests.Snapshot;

/// <summary>
/// A guest that set up kvmclock is saved and restored: the restored CPU writes the pvclock page
/// again (the monitor keeps it, so it is not RAM's business), its time goes on from where it was
/// rather than from zero, and the MSR reads back. A CPU model without kvmclock refuses the state.
/// </summary>
public class ParavirtSnapshotTests
{
    private static void Guest(Iced.Intel.Assembler a)
    {
        var loop = a.CreateLabel();
        P.Wrmsr(a, KvmAbi.MsrSystemTimeNew, P.ClockPage | 1);
        a.mov(ecx, 200_000);
        a.Label(ref loop);
        a.dec(ecx);
        a.jnz(loop);
        a.hlt();
    }

    private static ulong SystemTime(TestMachine m) => m.Memory.Read64(P.ClockPage + 16);

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void A_restored_guest_finds_its_pvclock_page_rewritten_and_its_time_going_on(string engine)
    {
        using var first = P.Machine(engine, ParavirtFeatures.All, Guest);
        Assert.Equal(StopReason.BudgetExhausted, first.Run(100_000));
        first.Cpu.Run(0); // a slice boundary: the page is brought up to date
        ulong before = SystemTime(first);
        CpuSnapshot mid = first.Cpu.CaptureSnapshot();
        Assert.Contains(mid.ParavirtMsrs, m => m.Key == KvmAbi.MsrSystemTimeNew && m.Value == (P.ClockPage | 1));

        using var restored = P.Machine(engine, ParavirtFeatures.All, Guest);
        first.Ram.AsSpan(0, (int)first.Ram.Size).CopyTo(restored.Ram.AsSpan(0, (int)restored.Ram.Size));
        for (uint i = 0; i < 32; i += 4) restored.Memory.Write32(P.ClockPage + i, 0); // the page is the monitor's to write
        restored.Cpu.RestoreSnapshot(mid);
        Assert.True(SystemTime(restored) >= before, $"kvmclock went back from {before} to {SystemTime(restored)} ns");
        Assert.Equal(0u, restored.Read32(P.ClockPage) & 1);
        Assert.NotEqual(0u, restored.Read32(P.ClockPage + 24)); // tsc_to_system_mul
        Assert.Equal(StopReason.Halted, restored.Run());
        Assert.True(SystemTime(restored) > before);
        Assert.Equal(mid.ParavirtMsrs, restored.Cpu.CaptureSnapshot().ParavirtMsrs);
    }

    [Fact]
    public void A_cpu_model_without_kvmclock_refuses_the_state()
    {
        using var first = P.Machine(Engines.Interpreter, ParavirtFeatures.All, Guest);
        first.Run(1_000);
        CpuSnapshot mid = first.Cpu.CaptureSnapshot();
        using var plain = P.Machine(Engines.Interpreter, ParavirtFeatures.None, Guest);
        var e = Assert.Throws<ArgumentException>(() => plain.Cpu.RestoreSnapshot(mid));
        Assert.Contains("paravirtual MSR", e.Message);
    }
}
