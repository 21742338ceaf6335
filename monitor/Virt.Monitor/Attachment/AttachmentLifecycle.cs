using Virt.Monitor.Transport;
using Virt.Shared.Control;

namespace Virt.Monitor.Attachment;

/// <summary>
/// The life of one device model as an explicit state machine, as Firecracker runs a VCPU (vstate/vcpu:
/// VcpuEvent in, VcpuResponse out): every phase change goes through <see cref="Next"/>, the one table
/// of transitions, under one lock. An event the table does not have in the current phase changes
/// nothing and is answered as not allowed; callers for whom that would be a bug use <see cref="Require"/>,
/// which throws.
/// <code>
/// Launching --Hello--> Handshaking --Ready--> Attached --Drain--> Draining --Retire--> Retired
///     |                     |                    |      &lt;--Resume--   |
///     +-------Retire--------+----> Retired       +--Fail--> Failed &lt;--Fail--+
///                                                          |
///                                                          +--Retire--> Retired
/// </code>
/// An attached model is never retired without draining first: its batched writes must reach it.
/// </summary>
public sealed class AttachmentLifecycle
{
    private readonly object _lock = new();
    private volatile AttachmentPhase _phase;

    private AttachmentLifecycle(AttachmentPhase initial) => _phase = initial;

    /// <summary>A device model the monitor has just started: it has not said Hello yet.</summary>
    public static AttachmentLifecycle Launched() => new(AttachmentPhase.Launching);

    /// <summary>A device model started by someone else (or a second connection of one of ours): its life begins at Hello.</summary>
    public static AttachmentLifecycle Greeted() => new(AttachmentPhase.Handshaking);

    public AttachmentPhase Phase => _phase;

    /// <summary>Why it failed (set by <see cref="Fail"/>, kept after it is retired).</summary>
    public string? Failure { get; private set; }

    /// <summary>The exit it held when it failed inside one.</summary>
    public InFlightExit? HeldExit { get; private set; }

    /// <summary>Why it was retired (not set when it had failed first: <see cref="Failure"/> says more).</summary>
    public string? RetiredBecause { get; private set; }

    /// <summary>Its claims are in the routing table: it serves exits (draining ones until they are retired).</summary>
    public bool IsRouted => Phase is AttachmentPhase.Attached or AttachmentPhase.Draining;

    /// <summary>The phase an event leads to from another, or null when the event is not allowed there. Every transition is here.</summary>
    public static AttachmentPhase? Next(AttachmentPhase from, AttachmentEvent e) => (from, e) switch
    {
        (AttachmentPhase.Launching, AttachmentEvent.Hello) => AttachmentPhase.Handshaking,
        (AttachmentPhase.Launching, AttachmentEvent.Retire) => AttachmentPhase.Retired,
        (AttachmentPhase.Handshaking, AttachmentEvent.Ready) => AttachmentPhase.Attached,
        (AttachmentPhase.Handshaking, AttachmentEvent.Retire) => AttachmentPhase.Retired,
        (AttachmentPhase.Attached, AttachmentEvent.Drain) => AttachmentPhase.Draining,
        (AttachmentPhase.Attached, AttachmentEvent.Fail) => AttachmentPhase.Failed,
        (AttachmentPhase.Draining, AttachmentEvent.Resume) => AttachmentPhase.Attached,
        (AttachmentPhase.Draining, AttachmentEvent.Fail) => AttachmentPhase.Failed,
        (AttachmentPhase.Draining, AttachmentEvent.Retire) => AttachmentPhase.Retired,
        (AttachmentPhase.Failed, AttachmentEvent.Retire) => AttachmentPhase.Retired,
        _ => null,
    };

    /// <summary>
    /// An event that carries nothing (Hello, Ready, Drain, Resume). Fail and Retire carry why:
    /// <see cref="Fail"/> and <see cref="Retire"/>.
    /// </summary>
    public AttachmentTransition Fire(AttachmentEvent e)
    {
        if (e is AttachmentEvent.Fail or AttachmentEvent.Retire)
            throw new ArgumentException($"{e} carries a reason: call {e}(why)", nameof(e));
        lock (_lock) return Move(e);
    }

    /// <summary>Like <see cref="Fire"/>, for a caller that has already checked the phase: a refusal is a monitor bug and throws.</summary>
    public AttachmentTransition Require(AttachmentEvent e)
    {
        AttachmentTransition t = Fire(e);
        return t.Allowed ? t : throw new IllegalAttachmentTransitionException(t);
    }

    /// <summary>It died or hung (inside <paramref name="exit"/>, if not null). Allowed only while it is routed.</summary>
    public AttachmentTransition Fail(string why, InFlightExit? exit)
    {
        lock (_lock)
        {
            AttachmentTransition t = Move(AttachmentEvent.Fail);
            if (t.Allowed)
            {
                Failure = why;
                HeldExit = exit;
            }
            return t;
        }
    }

    /// <summary>Takes it out for good. Not allowed from Attached (drain first) nor twice.</summary>
    public AttachmentTransition Retire(string why)
    {
        lock (_lock)
        {
            AttachmentTransition t = Move(AttachmentEvent.Retire);
            if (t.Allowed && t.From != AttachmentPhase.Failed) RetiredBecause = why;
            return t;
        }
    }

    private AttachmentTransition Move(AttachmentEvent e)
    {
        AttachmentPhase from = _phase;
        if (Next(from, e) is not { } to) return new(e, from, from, false);
        _phase = to;
        return new(e, from, to, true);
    }

    /// <summary>The state the control protocol reports (VmStatus, `virt list`): the wire keeps its four values.</summary>
    public AttachmentState WireState => Phase switch
    {
        AttachmentPhase.Launching or AttachmentPhase.Handshaking => AttachmentState.Attaching,
        AttachmentPhase.Attached or AttachmentPhase.Draining => AttachmentState.Active,
        AttachmentPhase.Failed => AttachmentState.Failed,
        _ => AttachmentState.Detached,
    };

    /// <summary>For `virt list` and messages: why it failed and the exit it holds, or why it was retired.</summary>
    public string Describe() => Phase == AttachmentPhase.Failed
        ? $"{Failure}{(HeldExit is { } e ? $"; exit held: {e}" : "")}"
        : Failure ?? RetiredBecause ?? "";

    public override string ToString() => Phase.ToString();
}
