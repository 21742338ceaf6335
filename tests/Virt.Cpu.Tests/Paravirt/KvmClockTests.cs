using Virt.Cpu.Execution;
using Virt.Cpu.Paravirt;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;
using P = Virt.Cpu.Tests.Paravirt.ParavirtGuest;

namespace Virt.Cpu.Tests.Paravirt;

/// <summary>
/// kvmclock (Linux's arch/x86/kernel/kvmclock.c, pvclock-abi.h): the pvclock page the monitor
/// writes where MSR_KVM_SYSTEM_TIME_NEW says, kept current with the version protocol, so the guest
/// reads time with RDTSC and no exit; the wall clock where MSR_KVM_WALL_CLOCK_NEW says.
/// </summary>
public sealed class KvmClockTests
{
    private readonly record struct Pvti(uint Version, ulong TscTimestamp, ulong SystemTime, uint Mul, sbyte Shift, byte Flags);

    private static Pvti ReadPage(TestMachine m, uint at = P.ClockPage) => new(
        m.Read32(at), m.Memory.Read64(at + 8), m.Memory.Read64(at + 16), m.Read32(at + 24), (sbyte)m.Memory.Read8(at + 28), m.Memory.Read8(at + 29));

    /// <summary>What the guest computes from the page at TSC <paramref name="tsc"/> (pvclock_clocksource_read).</summary>
    private static ulong GuestTime(Pvti p, ulong tsc) => p.SystemTime + new PvClockScale(p.Mul, p.Shift).Scale(tsc - p.TscTimestamp);

    private const uint Go = P.Out + 0x100;

    /// <summary>Spins until the host writes 1 at <see cref="Go"/> (the host runs the CPU again in between).</summary>
    private static void WaitForHost(Iced.Intel.Assembler a)
    {
        var spin = a.CreateLabel();
        a.Label(ref spin);
        a.cmp(__dword_ptr[Go], 0);
        a.je(spin);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void The_pvclock_page_appears_where_the_guest_asks_and_advances(string engine)
    {
        using var m = P.Machine(engine, ParavirtFeatures.All, a =>
        {
            a.mov(__dword_ptr[P.ClockPage], 0x41);                           // an odd version the guest left: the monitor moves past it
            P.Wrmsr(a, KvmAbi.MsrSystemTimeNew, P.ClockPage | 1);
            P.Wrmsr(a, KvmAbi.MsrWallClockNew, P.WallClock);
            a.rdtsc();
            a.mov(__dword_ptr[P.Out], eax);
            a.mov(__dword_ptr[P.Out + 4], edx);
            WaitForHost(a);
            // Second part: some work, then the TSC again.
            a.mov(ecx, 20_000);
            var loop = a.CreateLabel();
            a.Label(ref loop);
            a.dec(ecx);
            a.jnz(loop);
            a.rdtsc();
            a.mov(__dword_ptr[P.Out + 8], eax);
            a.mov(__dword_ptr[P.Out + 12], edx);
            a.hlt();
        });
        Assert.Equal(StopReason.BudgetExhausted, m.Run(20_000));
        Pvti first = ReadPage(m);
        Assert.Equal(0u, first.Version & 1);
        Assert.True(first.Version > 0x41, $"version {first.Version:X}");
        Assert.Equal(1u << 31, first.Mul);                                   // 1 GHz TSC: exactly 1 ns per tick
        Assert.Equal(1, first.Shift);
        Assert.Equal(KvmAbi.PvclockTscStable, first.Flags);
        Assert.Equal(1_000_000UL, new PvClockScale(first.Mul, first.Shift).TscKhz);
        ulong tsc1 = m.Memory.Read64(P.Out);
        Assert.True(tsc1 >= first.TscTimestamp);

        // The wall clock: UTC at pvclock 0, so now minus the time since RESET, within a minute of the host's.
        Assert.Equal(0u, m.Read32(P.WallClock) & 1);
        long bootSeconds = m.Read32(P.WallClock + 4);
        Assert.True(m.Read32(P.WallClock + 8) < 1_000_000_000);
        Assert.InRange(bootSeconds, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);

        m.Memory.Write32(Go, 1);
        Assert.Equal(StopReason.Halted, m.Run());
        Pvti second = ReadPage(m);
        ulong tsc2 = m.Memory.Read64(P.Out + 8);
        Assert.Equal(0u, second.Version & 1);
        Assert.True(second.Version > first.Version, "the monitor refreshed the page on the next run");
        Assert.True(second.TscTimestamp > first.TscTimestamp && second.SystemTime > first.SystemTime);
        // Both pages describe one line: the old page extrapolated to the new timestamp gives the new time.
        Assert.Equal(GuestTime(first, second.TscTimestamp), second.SystemTime);
        Assert.True(GuestTime(second, tsc2) > GuestTime(first, tsc1));
        Assert.True(m.Cpu.PvClockUpdates >= 2);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void Writing_the_tsc_keeps_the_pvclock_continuous(string engine)
    {
        using var m = P.Machine(engine, ParavirtFeatures.All, a =>
        {
            P.Wrmsr(a, KvmAbi.MsrSystemTimeNew, P.ClockPage | 1);
            WaitForHost(a);
            P.Wrmsr(a, 0x10, 5, 0);                                          // TSC := 5
            a.hlt();
        });
        Assert.Equal(StopReason.BudgetExhausted, m.Run(20_000));
        Pvti before = ReadPage(m);
        m.Memory.Write32(Go, 1);
        Assert.Equal(StopReason.Halted, m.Run());
        Pvti after = ReadPage(m);
        Assert.True(after.TscTimestamp < before.TscTimestamp, "the TSC went back");
        Assert.True(after.SystemTime >= before.SystemTime, "the pvclock did not");
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void A_disabled_or_misplaced_clock_is_not_written(string engine)
    {
        using var m = P.Machine(engine, ParavirtFeatures.All, a =>
        {
            P.Wrmsr(a, KvmAbi.MsrSystemTimeNew, P.ClockPage);                // bit 0 clear: disabled
            P.Wrmsr(a, KvmAbi.MsrSystemTimeNew, 0xFFFF_F000 | 1);            // not RAM: accepted, nothing written
            P.Wrmsr(a, KvmAbi.MsrSystemTimeNew, 1, 1);                       // above 4 GiB
            P.Wrmsr(a, KvmAbi.MsrSystemTimeNew, P.ClockPage + 0xFF0 | 1);    // would cross the page
            P.Rdmsr(a, KvmAbi.MsrSystemTimeNew, P.Out);
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(0u, m.Read32(P.Faults));
        Assert.Equal(0L, m.Cpu.PvClockUpdates);
        Assert.Equal(0UL, m.Memory.Read64(P.ClockPage + 16));
        Assert.Equal(P.ClockPage + 0xFF0 | 1, m.Read32(P.Out));              // RDMSR gives back what was written
    }
}
