namespace Virt.Monitor.Attachment;

/// <summary>What can happen to a device model; <see cref="AttachmentLifecycle"/> says what each does in each phase.</summary>
public enum AttachmentEvent
{
    /// <summary>A started process said Hello with the right secret.</summary>
    Hello,
    /// <summary>Its claims are made: route them.</summary>
    Ready,
    /// <summary>A detach or swap parked the VCPU to take it out.</summary>
    Drain,
    /// <summary>The swap that was draining it gave up (its devices did not save): it serves on, nothing changed.</summary>
    Resume,
    /// <summary>Its process or socket is gone, or it did not complete an exit in time.</summary>
    Fail,
    /// <summary>Take it out for good: detached, replaced, or a handshake (or a launch) that ended before Ready.</summary>
    Retire,
}
