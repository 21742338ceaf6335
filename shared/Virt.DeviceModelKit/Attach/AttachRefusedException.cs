namespace Virt.DeviceModelKit.Attach;

/// <summary>The monitor refused the attach or a claim: the message says why, in the monitor's words.</summary>
public sealed class AttachRefusedException(string message) : Exception(message);
