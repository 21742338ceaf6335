namespace Virt.Monitor.Attachment;

/// <summary>
/// Where one device model is in its life (<see cref="AttachmentLifecycle"/>). The control protocol
/// reports a coarser <see cref="Virt.Shared.Control.AttachmentState"/> (<see cref="AttachmentLifecycle.WireState"/>).
/// </summary>
public enum AttachmentPhase
{
    /// <summary>The monitor started its process (virt run --dm, virt attach); it has not said Hello yet.</summary>
    Launching,
    /// <summary>Said Hello and got its comm region; making claims, not routed to yet.</summary>
    Handshaking,
    /// <summary>Sent Ready: its claims are routed and it serves exits.</summary>
    Attached,
    /// <summary>Being taken out with the VCPU parked (detach, swap): its batched writes are handed over, its devices saved.</summary>
    Draining,
    /// <summary>Died or hung: the guest is paused with its exit held until a device model replaces it.</summary>
    Failed,
    /// <summary>Gone: claims removed, told to exit (or its handshake was abandoned). Final.</summary>
    Retired,
}
