using System.Runtime.InteropServices;
using Virt.Shared.Abi;
using Virt.Shared.Wakeup;

namespace Virt.Integration.Tests.Wakeup;

/// <summary>The adaptive wake-up policy (docs/wakeup.md): what it decides from what it is told. No timing.</summary>
public class AdaptiveSpinTests
{
    private const long Cap = 50_000;

    [Fact]
    public void Never_spins_without_a_spare_core()
    {
        var p = new AdaptiveSpin(Cap, processorCount: 1);
        for (int i = 0; i < 4 * AdaptiveSpin.ProbeInterval; i++)
        {
            Assert.Equal(0, p.Budget(peerRunning: true));
            Assert.Equal(0, p.Budget(peerRunning: false));
            p.Observe(10, WaitOutcome.Spun);
        }
    }

    [Fact]
    public void Does_not_spin_for_a_sleeping_peer_except_a_bounded_probe()
    {
        var p = new AdaptiveSpin(Cap, 2);
        for (int i = 0; i < 100; i++) p.Observe(100, WaitOutcome.Spun); // a fast peer
        Assert.True(p.Budget(peerRunning: true) > 0);
        int spins = 0;
        for (int i = 0; i < 10 * AdaptiveSpin.ProbeInterval; i++)
        {
            long b = p.Budget(peerRunning: false);
            Assert.InRange(b, 0, Cap);
            if (b > 0) spins++;
        }
        Assert.Equal(10, spins);
    }

    [Fact]
    public void The_learned_spin_follows_the_peer_and_stays_under_the_cap()
    {
        var p = new AdaptiveSpin(Cap, 2);
        for (int i = 0; i < 200; i++) p.Observe(1_000, WaitOutcome.Spun);
        long fast = p.Budget(peerRunning: true);
        Assert.InRange(fast, 1_000, 4_000 + Cap / 4);

        for (int i = 0; i < 200; i++) p.Observe(8_000, WaitOutcome.Spun);
        long slower = p.Budget(peerRunning: true);
        Assert.True(slower > fast);
        Assert.InRange(slower, 8_000, Cap);

        // A wait about as long as the cap (a futex wake-up) keeps the spin, at the cap.
        for (int i = 0; i < 200; i++) p.Observe(Cap * 3 / 4, WaitOutcome.Slept);
        Assert.Equal(Cap, p.Budget(peerRunning: true));

        // Waits far longer than the cap are learned as a few caps: no more spinning...
        for (int i = 0; i < 200; i++) p.Observe(long.MaxValue / 4, WaitOutcome.Slept);
        Assert.InRange(p.MeanTicks, Cap + 1, AdaptiveSpin.LongWaitFactor * Cap);
        Assert.Equal(0, p.LearnedBudget);
        int spins = 0;
        for (int i = 0; i < 4 * AdaptiveSpin.ProbeInterval; i++)
        {
            long b = p.Budget(peerRunning: true);
            Assert.InRange(b, 0, Cap);
            if (b > 0) spins++;
        }
        // ...but a probe now and then, so that the pair can come back to spinning.
        Assert.Equal(4, spins);
        for (int i = 0; i < 200; i++) p.Observe(500, WaitOutcome.Spun);
        Assert.True(p.Budget(peerRunning: true) > 0);
    }

    [Fact]
    public void A_negative_wait_is_learned_as_none()
    {
        var p = new AdaptiveSpin(Cap, 2);
        for (int i = 0; i < 200; i++) p.Observe(-5, WaitOutcome.Spun);
        Assert.InRange(p.MeanTicks, 0, 8);
        Assert.InRange(p.Budget(peerRunning: true), 1, Cap);
    }

    [Fact]
    public void Failed_spins_back_off_exponentially_up_to_a_bound_and_a_caught_spin_ends_it()
    {
        var p = new AdaptiveSpin(Cap, 2);
        for (int i = 0; i < 100; i++) p.Observe(100, WaitOutcome.Spun);
        int expected = 1;
        for (int round = 0; round < 10; round++)
        {
            Assert.True(p.Budget(peerRunning: true) > 0); // the next spin after a back-off
            p.Observe(Cap / 2, WaitOutcome.SpunThenSlept);
            Assert.Equal(expected, p.Skipping);
            for (int i = 0; i < expected; i++)
            {
                Assert.Equal(0, p.Budget(peerRunning: true));
                p.Observe(100, WaitOutcome.Slept); // short sleeps do not end the back-off
            }
            expected = Math.Min(2 * expected, AdaptiveSpin.MaxBackoff);
        }
        Assert.Equal(AdaptiveSpin.MaxBackoff, expected);
        Assert.True(p.Budget(peerRunning: true) > 0);
        p.Observe(100, WaitOutcome.Spun);
        p.Observe(Cap / 2, WaitOutcome.SpunThenSlept);
        Assert.Equal(1, p.Skipping);
    }

    /// <summary>
    /// A peer we just woke on another CPU answers after its wake-up: the waiter spins through it for
    /// the cap (so the answer needs no wake-up of ours), whatever it learned; not with one CPU, not
    /// during a back-off after a spin that had to sleep anyway, and never for a halted peer (the
    /// caller then does not say woken).
    /// </summary>
    [Fact]
    public void Spins_through_the_wake_up_of_a_peer_it_just_woke_unless_backing_off()
    {
        var p = new AdaptiveSpin(Cap, 2);
        for (int i = 0; i < 100; i++) p.Observe(10 * Cap, WaitOutcome.Slept); // learned: nothing to spin for
        WaitPlan plan = p.Plan(peerRunning: false, peerOnOurCpu: false, now: 0, peerWoken: true);
        Assert.Equal(WaitStyle.Spin, plan.Style);
        Assert.Equal(Cap, plan.Ticks);
        p.Observe(Cap, WaitOutcome.SpunThenSlept);                                    // the answer came too late
        Assert.Equal(WaitStyle.Sleep, p.Plan(peerRunning: false, peerOnOurCpu: false, now: 0, peerWoken: true).Style);
        Assert.Equal(WaitStyle.Sleep, new AdaptiveSpin(Cap, 1).Plan(peerRunning: false, peerOnOurCpu: false, now: 0, peerWoken: true).Style);
    }

    private const long Second = 1_000_000_000; // the tests' tick: 1 ns

    [Fact]
    public void Yields_to_a_peer_on_our_cpu_even_one_it_just_woke_and_without_a_spare_core()
    {
        foreach (int cpus in new[] { 1, 2 })
        {
            var p = new AdaptiveSpin(Cap, cpus, Second);
            for (int i = 0; i < 100; i++) p.Observe(3_000, WaitOutcome.Spun);
            foreach (bool running in new[] { true, false })
            {
                WaitPlan plan = p.Plan(peerRunning: running, peerOnOurCpu: true, now: 0);
                Assert.Equal(WaitStyle.Yield, plan.Style);
                Assert.Equal(p.LearnedBudget, plan.Ticks);
            }
            // Elsewhere: spin for a running peer (with a core to spare), sleep for one we just woke.
            Assert.Equal(cpus > 1 ? WaitStyle.Spin : WaitStyle.Sleep, p.Plan(peerRunning: true, peerOnOurCpu: false, now: 0).Style);
            Assert.Equal(WaitStyle.Sleep, p.Plan(peerRunning: false, peerOnOurCpu: false, now: 0).Style);
        }
    }

    /// <summary>
    /// Yielding keeps both threads runnable on one CPU. With a core to spare, one wait in
    /// SpreadInterval asks whether a CPU is idle, and sleeps if so, so that the ring ending the sleep
    /// may wake the waiter there; with one CPU it never asks. A busy machine keeps it yielding.
    /// </summary>
    [Fact]
    public void Beside_the_peer_asks_for_an_idle_cpu_one_wait_in_an_interval_and_sleeps_only_if_there_is_one()
    {
        foreach (int cpus in new[] { 1, 2 })
        {
            var p = new AdaptiveSpin(Cap, cpus, Second);
            for (int i = 0; i < 100; i++) p.Observe(3_000, WaitOutcome.Spun);
            int due = 0;
            for (int i = 0; i < 4 * AdaptiveSpin.SpreadInterval; i++)
                if (p.SpreadCheckDue()) due++;
            Assert.Equal(cpus > 1 ? 4 : 0, due);
            Assert.Equal(WaitStyle.Yield, p.Plan(peerRunning: true, peerOnOurCpu: true, now: 0, idleCpu: false).Style);
            Assert.Equal(WaitStyle.Sleep, p.Plan(peerRunning: true, peerOnOurCpu: true, now: 0, idleCpu: true).Style);
        }
    }

    [Fact]
    public void The_runnable_task_count_is_read_from_a_loadavg_line()
    {
        Assert.Equal(2, IdleCpu.RunnableTasks("0.96 1.79 3.28 2/345 12345\n"u8));
        Assert.Equal(17, IdleCpu.RunnableTasks("10.00 9.00 8.00 17/1024 999\n"u8));
        Assert.Null(IdleCpu.RunnableTasks("0.96 1.79 3.28"u8));
        Assert.Null(IdleCpu.RunnableTasks("garbage"u8));
        // The real file: at least this thread runs.
        Assert.True(IdleCpu.RunnableTasks(File.ReadAllBytes("/proc/loadavg")) >= 1);
    }

    [Fact]
    public void Never_spins_beside_a_peer_on_our_cpu_and_does_not_yield_to_a_slow_one()
    {
        var p = new AdaptiveSpin(Cap, 2, Second);
        for (int i = 0; i < 200; i++) p.Observe(10 * Cap, WaitOutcome.Slept);
        Assert.Equal(0, p.LearnedBudget);
        // Not even the probe: spinning on the peer's own CPU cannot catch it.
        for (int i = 0; i < 4 * AdaptiveSpin.ProbeInterval; i++)
            Assert.Equal(WaitStyle.Sleep, p.Plan(peerRunning: true, peerOnOurCpu: true, now: 0).Style);
    }

    [Fact]
    public void A_stalled_yield_stops_yielding_for_a_doubling_while_that_calm_resets()
    {
        var p = new AdaptiveSpin(Cap, 2, Second);
        for (int i = 0; i < 100; i++) p.Observe(3_000, WaitOutcome.Spun);
        const long ms = Second / 1000;
        long now = 5 * Second;
        long expected = AdaptiveSpin.YieldBackoffMinMillis * ms;
        for (int stall = 0; stall < 10; stall++)
        {
            Assert.True(p.MayYield(now));
            p.YieldStalled(now);
            Assert.Equal(now + expected, p.NoYieldUntil);
            Assert.False(p.MayYield(now + expected - 1));
            Assert.Equal(WaitStyle.Sleep, p.Plan(peerRunning: true, peerOnOurCpu: true, now: now + expected - 1).Style); // not Spin either
            // A peer on another CPU is still spun for: only yielding backs off.
            Assert.Equal(WaitStyle.Spin, p.Plan(peerRunning: true, peerOnOurCpu: false, now: now + expected - 1).Style);
            now += expected;
            Assert.Equal(WaitStyle.Yield, p.Plan(peerRunning: true, peerOnOurCpu: true, now: now).Style);
            expected = Math.Min(2 * expected, AdaptiveSpin.YieldBackoffMaxMillis * ms);
        }
        Assert.Equal(AdaptiveSpin.YieldBackoffMaxMillis * ms, expected);
        // Long calm (no stall for more than twice the longest back-off): the next stall starts short again.
        now += 3 * AdaptiveSpin.YieldBackoffMaxMillis * ms;
        p.YieldStalled(now);
        Assert.Equal(now + AdaptiveSpin.YieldBackoffMinMillis * ms, p.NoYieldUntil);
    }

    [Fact]
    public unsafe void Two_threads_on_one_cpu_yield_to_each_other_and_lose_no_wake_up()
    {
        if (!OperatingSystem.IsLinux()) return;
        var mem = (DoorbellWords*)NativeMemory.AllocZeroed(2 * 64);
        try
        {
            // As the monitor and the device model: each waiter knows the other's doorbell (RunningCpu).
            var pingRing = new Doorbell(&mem[0], WakeMode.Adaptive, 50);
            var pingWait = new Doorbell(&mem[0], WakeMode.Adaptive, 50, peerWords: &mem[1]);
            var pongRing = new Doorbell(&mem[1], WakeMode.Adaptive, 50);
            var pongWait = new Doorbell(&mem[1], WakeMode.Adaptive, 50, peerWords: &mem[0]);
            const uint n = 3000;
            int cpu = Environment.ProcessorCount - 1;
            var server = new Thread(() =>
            {
                OneCpu.Pin(cpu);
                uint last = 0;
                bool wasAsleep = false;
                while (last < n)
                {
                    uint v = pingWait.WaitWhile(last, 5_000_000, !wasAsleep);
                    if (v == last) continue;
                    last = v;
                    wasAsleep = pongRing.Ring(v);
                }
            });
            uint got = 0;
            var client = new Thread(() =>
            {
                OneCpu.Pin(cpu);
                bool asleep = false;
                for (uint seq = 1; seq <= n; seq++)
                {
                    asleep = pingRing.Ring(seq);
                    while (got != seq) got = pongWait.WaitWhile(got, 5_000_000, !asleep);
                }
            });
            server.Start();
            client.Start();
            Assert.True(client.Join(TimeSpan.FromSeconds(60)));
            Assert.True(server.Join(TimeSpan.FromSeconds(10)));
            Assert.Equal(n, got);
            Assert.Equal(n, mem[1].Seq);
            Assert.Equal(0u, mem[0].Sleeping);
            Assert.Equal(0u, mem[1].Sleeping);
            // Both told where they ran: the same CPU.
            Assert.Equal((uint)cpu + 1, mem[0].RunningCpu);
            Assert.Equal((uint)cpu + 1, mem[1].RunningCpu);
        }
        finally
        {
            NativeMemory.Free(mem);
        }
    }

    [Fact]
    public void Rejects_a_cap_of_nothing() => Assert.Throws<ArgumentOutOfRangeException>(() => new AdaptiveSpin(0, 2));

    [Fact]
    public unsafe void An_adaptive_doorbell_between_two_threads_loses_no_wake_up()
    {
        if (!OperatingSystem.IsLinux()) return;
        var mem = (DoorbellWords*)NativeMemory.AllocZeroed(2 * 64);
        uint* peerIdle = (uint*)NativeMemory.AllocZeroed(64);
        try
        {
            var pingRing = new Doorbell(&mem[0], WakeMode.Adaptive, 50);
            var pingWait = new Doorbell(&mem[0], WakeMode.Adaptive, 50, peerIdle: peerIdle);
            var pongRing = new Doorbell(&mem[1], WakeMode.Adaptive, 50);
            var pongWait = new Doorbell(&mem[1], WakeMode.Adaptive, 50);
            Assert.Equal(WakeMode.Adaptive, pingWait.Mode);
            const uint n = 3000;
            var server = new Thread(() =>
            {
                uint last = 0;
                bool wasAsleep = false;
                while (last < n)
                {
                    uint v = pingWait.WaitWhile(last, 5_000_000, !wasAsleep);
                    if (v == last) continue;
                    last = v;
                    // Every so often pretend the VCPU halted: the waiter must still be woken.
                    *peerIdle = (v % 7 == 0) ? 1u : 0u;
                    wasAsleep = pongRing.Ring(v);
                }
            });
            server.Start();
            bool asleep = false;
            for (uint seq = 1; seq <= n; seq++)
            {
                asleep = pingRing.Ring(seq);
                uint got = seq - 1;
                while (got != seq) got = pongWait.WaitWhile(got, 5_000_000, !asleep);
                if (seq % 500 == 0) Thread.Sleep(1); // let both sides fall asleep now and then
            }
            Assert.True(server.Join(TimeSpan.FromSeconds(30)));
            Assert.Equal(n, mem[1].Seq);
            Assert.Equal(0u, mem[0].Sleeping);
            Assert.InRange(pongWait.Adaptive!.MeanTicks, 0, pongWait.Adaptive.CapTicks);
        }
        finally
        {
            NativeMemory.Free(mem);
            NativeMemory.Free(peerIdle);
        }
    }
}
