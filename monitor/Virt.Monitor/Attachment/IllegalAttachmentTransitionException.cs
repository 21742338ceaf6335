namespace Virt.Monitor.Attachment;

/// <summary>
/// A caller required a transition the lifecycle does not have: a bug in the monitor, never a peer's
/// doing (what a peer can cause is answered with a refused <see cref="AttachmentTransition"/>).
/// </summary>
public sealed class IllegalAttachmentTransitionException(AttachmentTransition refused)
    : InvalidOperationException($"device model lifecycle: {refused}")
{
    public AttachmentTransition Refused { get; } = refused;
}
