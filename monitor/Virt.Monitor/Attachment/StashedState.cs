using Virt.Shared.Control;

namespace Virt.Monitor.Attachment;

/// <summary>Device state blobs waiting for the next device model, and whether they are a failed model's crash snapshot.</summary>
public sealed record StashedState(IReadOnlyList<DeviceState> Blobs, bool IsCrashSnapshot)
{
    public static readonly StashedState None = new([], false);
}
