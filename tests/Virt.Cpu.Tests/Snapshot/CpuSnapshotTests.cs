using Virt.Cpu.Execution;
using Virt.Cpu.State;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests.Snapshot;

/// <summary>
/// A CPU captured mid-run and restored into a fresh CPU (over a copy of its RAM) finishes exactly as
/// the one that ran through: registers, EFLAGS, MSRs, the x87 stack and what it wrote to memory.
/// </summary>
public class CpuSnapshotTests
{
    private const uint Result = 0x2_0000;

    private static void Program(TestMachine m) => m.Load32(0x10_0000, a =>
    {
        Iced.Intel.Label loop = a.CreateLabel();
        a.mov(ecx, 0x174);            // SYSENTER_CS
        a.mov(eax, 0x1234);
        a.xor(edx, edx);
        a.wrmsr();
        a.fninit();
        a.fldpi();
        a.fld1();
        a.xor(eax, eax);
        a.mov(ebx, 0x9E37_79B9);
        a.mov(ecx, 60_000);
        a.Label(ref loop);
        a.fadd(st0, st1);             // st0 += pi, sixty thousand times
        a.add(eax, ecx);
        a.rol(eax, 3);
        a.xor(ebx, eax);
        a.adc(edx, 0);
        a.dec(ecx);
        a.jnz(loop);
        a.fstp(__qword_ptr[Result]);
        a.mov(__dword_ptr[Result + 8], eax);
        a.mov(__dword_ptr[Result + 12], ebx);
        a.mov(ecx, 0x174);
        a.rdmsr();
        a.mov(__dword_ptr[Result + 16], eax);
        a.hlt();
    });

    [Theory]
    [MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void A_cpu_restored_mid_run_finishes_as_the_one_that_ran_through(string engine)
    {
        using var through = new TestMachine();
        using var first = new TestMachine();
        Engines.Use(through, engine);
        Engines.Use(first, engine);
        Program(through);
        Program(first);
        Assert.Equal(StopReason.Halted, through.Run());

        Assert.Equal(StopReason.BudgetExhausted, first.Run(150_001));
        CpuSnapshot mid = first.Cpu.CaptureSnapshot();
        Assert.True(mid.InstructionsRetired > 100_000 && mid.Registers[1] is > 0 and < 60_000, "stopped inside the loop");

        using var restored = new TestMachine();
        Engines.Use(restored, engine);
        first.Ram.AsSpan(0, (int)first.Ram.Size).CopyTo(restored.Ram.AsSpan(0, (int)restored.Ram.Size));
        restored.Cpu.RestoreSnapshot(mid);
        Assert.Equal(StopReason.Halted, restored.Run());

        CpuSnapshot a = through.Cpu.CaptureSnapshot(), b = restored.Cpu.CaptureSnapshot();
        Assert.Equal(a.Registers, b.Registers);
        Assert.Equal(a.Eip, b.Eip);
        Assert.Equal(a.Eflags, b.Eflags);
        Assert.Equal(a.Segments, b.Segments);
        Assert.Equal(a.Cr0, b.Cr0);
        Assert.Equal(a.Msrs, b.Msrs);
        Assert.Equal(a.InstructionsRetired, b.InstructionsRetired);
        Assert.Equal((a.FpuControl, a.FpuStatus, a.FpuTag), (b.FpuControl, b.FpuStatus, b.FpuTag));
        Assert.Equal(a.FpuSignExponents, b.FpuSignExponents);
        Assert.Equal(a.FpuSignificands, b.FpuSignificands);
        Assert.True(a.Halted && b.Halted);
        for (uint i = 0; i < 20; i += 4) Assert.Equal(through.Read32(Result + i), restored.Read32(Result + i));
        Assert.Equal(0x1234u, restored.Read32(Result + 16)); // the MSR came across
    }

    [Fact]
    public void A_malformed_snapshot_is_refused_before_anything_changes()
    {
        using var m = new TestMachine();
        Program(m);
        uint eip = m.Cpu.State.Eip;
        var bad = m.Cpu.CaptureSnapshot();
        bad.Segments = new SegmentRegister[5];
        Assert.Throws<ArgumentException>(() => m.Cpu.RestoreSnapshot(bad));
        Assert.Equal(eip, m.Cpu.State.Eip);
    }
}
