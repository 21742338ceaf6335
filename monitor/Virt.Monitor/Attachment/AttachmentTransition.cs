namespace Virt.Monitor.Attachment;

/// <summary>
/// The answer to an <see cref="AttachmentEvent"/> (as Firecracker's VcpuResponse answers a VcpuEvent):
/// the phase before and after, or, when the event is not allowed in that phase, <see cref="Allowed"/>
/// false and the phase unchanged.
/// </summary>
public readonly record struct AttachmentTransition(AttachmentEvent Event, AttachmentPhase From, AttachmentPhase To, bool Allowed)
{
    public override string ToString() => Allowed ? $"{Event}: {From} -> {To}" : $"{Event} is not allowed in {From}";
}
