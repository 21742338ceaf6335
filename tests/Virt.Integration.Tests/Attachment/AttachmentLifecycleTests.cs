using Virt.Monitor.Attachment;
using Virt.Monitor.Transport;
using Virt.Shared.Abi;
using Virt.Shared.Control;

namespace Virt.Integration.Tests.Attachment;

/// <summary>The device model lifecycle on its own: every legal transition, every illegal one refused, the wire state of each phase.</summary>
public class AttachmentLifecycleTests
{
    private static readonly (AttachmentPhase From, AttachmentEvent Event, AttachmentPhase To)[] Legal =
    [
        (AttachmentPhase.Launching, AttachmentEvent.Hello, AttachmentPhase.Handshaking),
        (AttachmentPhase.Launching, AttachmentEvent.Retire, AttachmentPhase.Retired),
        (AttachmentPhase.Handshaking, AttachmentEvent.Ready, AttachmentPhase.Attached),
        (AttachmentPhase.Handshaking, AttachmentEvent.Retire, AttachmentPhase.Retired),
        (AttachmentPhase.Attached, AttachmentEvent.Drain, AttachmentPhase.Draining),
        (AttachmentPhase.Attached, AttachmentEvent.Fail, AttachmentPhase.Failed),
        (AttachmentPhase.Draining, AttachmentEvent.Resume, AttachmentPhase.Attached),
        (AttachmentPhase.Draining, AttachmentEvent.Fail, AttachmentPhase.Failed),
        (AttachmentPhase.Draining, AttachmentEvent.Retire, AttachmentPhase.Retired),
        (AttachmentPhase.Failed, AttachmentEvent.Retire, AttachmentPhase.Retired),
    ];

    /// <summary>A lifecycle brought to <paramref name="phase"/> by legal events only.</summary>
    private static AttachmentLifecycle In(AttachmentPhase phase)
    {
        var l = phase == AttachmentPhase.Launching ? AttachmentLifecycle.Launched() : AttachmentLifecycle.Greeted();
        switch (phase)
        {
            case AttachmentPhase.Attached:
                l.Require(AttachmentEvent.Ready);
                break;
            case AttachmentPhase.Draining:
                l.Require(AttachmentEvent.Ready);
                l.Require(AttachmentEvent.Drain);
                break;
            case AttachmentPhase.Failed:
                l.Require(AttachmentEvent.Ready);
                Assert.True(l.Fail("died", null).Allowed);
                break;
            case AttachmentPhase.Retired:
                Assert.True(l.Retire("gone").Allowed);
                break;
        }
        Assert.Equal(phase, l.Phase);
        return l;
    }

    private static AttachmentTransition Send(AttachmentLifecycle l, AttachmentEvent e) => e switch
    {
        AttachmentEvent.Fail => l.Fail("why", null),
        AttachmentEvent.Retire => l.Retire("why"),
        _ => l.Fire(e),
    };

    [Fact]
    public void Every_event_in_every_phase_is_allowed_exactly_as_the_table_says()
    {
        foreach (AttachmentPhase from in Enum.GetValues<AttachmentPhase>())
            foreach (AttachmentEvent e in Enum.GetValues<AttachmentEvent>())
            {
                var legal = Legal.Where(t => t.From == from && t.Event == e).ToArray();
                AttachmentLifecycle l = In(from);
                AttachmentTransition t = Send(l, e);
                if (legal.Length == 1)
                {
                    Assert.Equal(new AttachmentTransition(e, from, legal[0].To, true), t);
                    Assert.Equal(legal[0].To, l.Phase);
                    Assert.Equal(legal[0].To, AttachmentLifecycle.Next(from, e));
                }
                else
                {
                    Assert.False(t.Allowed, $"{e} in {from}");
                    Assert.Equal(from, t.To);
                    Assert.Equal(from, l.Phase);
                    Assert.Null(AttachmentLifecycle.Next(from, e));
                }
            }
    }

    [Fact]
    public void Require_throws_on_an_illegal_transition_and_leaves_the_phase()
    {
        var l = AttachmentLifecycle.Greeted();
        var e = Assert.Throws<IllegalAttachmentTransitionException>(() => l.Require(AttachmentEvent.Drain));
        Assert.Equal(new AttachmentTransition(AttachmentEvent.Drain, AttachmentPhase.Handshaking, AttachmentPhase.Handshaking, false), e.Refused);
        Assert.Equal(AttachmentPhase.Handshaking, l.Phase);
        // Ready once: a second Ready is a monitor bug.
        l.Require(AttachmentEvent.Ready);
        Assert.Throws<IllegalAttachmentTransitionException>(() => l.Require(AttachmentEvent.Ready));
        Assert.Equal(AttachmentPhase.Attached, l.Phase);
    }

    [Fact]
    public void An_attached_model_is_never_retired_without_draining()
    {
        AttachmentLifecycle l = In(AttachmentPhase.Attached);
        Assert.False(l.Retire("detached").Allowed);
        Assert.Equal(AttachmentPhase.Attached, l.Phase);
        Assert.True(l.Fire(AttachmentEvent.Drain).Allowed);
        Assert.True(l.Retire("detached").Allowed);
        Assert.Equal("detached", l.Describe());
        // Retired is final.
        foreach (AttachmentEvent e in Enum.GetValues<AttachmentEvent>()) Assert.False(Send(l, e).Allowed);
    }

    [Fact]
    public void Fail_and_Retire_carry_their_reason_and_Fire_refuses_them_without_one()
    {
        Assert.Throws<ArgumentException>(() => AttachmentLifecycle.Greeted().Fire(AttachmentEvent.Fail));
        Assert.Throws<ArgumentException>(() => AttachmentLifecycle.Greeted().Fire(AttachmentEvent.Retire));

        AttachmentLifecycle l = In(AttachmentPhase.Attached);
        var exit = new InFlightExit(ExitReason.PortIo, 0x3F8, 1, ExitDirection.Write, 0x41, ExitFlags.None, 1);
        Assert.True(l.Fail("no completion within 10 s", exit).Allowed);
        Assert.Equal("no completion within 10 s", l.Failure);
        Assert.Equal(exit, l.HeldExit);
        Assert.Equal($"no completion within 10 s; exit held: {exit}", l.Describe());
        // A second failure (the socket closes after the timeout) changes nothing.
        Assert.False(l.Fail("socket closed", null).Allowed);
        Assert.Equal(exit, l.HeldExit);
        // Retired after failing: the failure is what `virt list` goes on showing.
        Assert.True(l.Retire("replaced by 'virt-dm'").Allowed);
        Assert.Null(l.RetiredBecause);
        Assert.Equal("no completion within 10 s", l.Describe());
    }

    [Fact]
    public void A_swap_that_could_not_save_resumes_but_a_model_that_failed_while_draining_stays_failed()
    {
        AttachmentLifecycle l = In(AttachmentPhase.Draining);
        Assert.True(l.Fire(AttachmentEvent.Resume).Allowed);
        Assert.Equal(AttachmentPhase.Attached, l.Phase);

        l.Require(AttachmentEvent.Drain);
        Assert.True(l.Fail("socket closed while saving", null).Allowed);
        Assert.False(l.Fire(AttachmentEvent.Resume).Allowed);
        Assert.Equal(AttachmentPhase.Failed, l.Phase);
    }

    [Theory]
    [InlineData(AttachmentPhase.Launching, AttachmentState.Attaching, false)]
    [InlineData(AttachmentPhase.Handshaking, AttachmentState.Attaching, false)]
    [InlineData(AttachmentPhase.Attached, AttachmentState.Active, true)]
    [InlineData(AttachmentPhase.Draining, AttachmentState.Active, true)]
    [InlineData(AttachmentPhase.Failed, AttachmentState.Failed, false)]
    [InlineData(AttachmentPhase.Retired, AttachmentState.Detached, false)]
    public void Each_phase_has_its_wire_state_and_only_attached_and_draining_models_are_routed(AttachmentPhase phase, AttachmentState wire, bool routed)
    {
        AttachmentLifecycle l = In(phase);
        Assert.Equal(wire, l.WireState);
        Assert.Equal(routed, l.IsRouted);
    }

    [Fact]
    public void Concurrent_failures_and_retirements_move_the_lifecycle_once()
    {
        for (int round = 0; round < 200; round++)
        {
            AttachmentLifecycle l = In(AttachmentPhase.Draining);
            int allowed = 0;
            Parallel.For(0, 8, i =>
            {
                AttachmentTransition t = i % 2 == 0 ? l.Fail($"f{i}", null) : l.Retire($"r{i}");
                if (t.Allowed) Interlocked.Increment(ref allowed);
            });
            // Either a Retire came first (one move), or a Fail then a Retire from Failed (two): never more, and always retired.
            Assert.Equal(AttachmentPhase.Retired, l.Phase);
            Assert.InRange(allowed, 1, 2);
        }
    }
}
