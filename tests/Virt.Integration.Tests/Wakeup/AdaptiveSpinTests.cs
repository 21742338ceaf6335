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
