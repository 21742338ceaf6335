namespace Virt.Devices.State;

/// <summary>
/// A device whose complete state can be captured and put back, so a device model can be replaced
/// under a running guest. The blob starts with a four-character tag and a version number;
/// restoring an unknown tag or version throws <see cref="DeviceStateException"/>.
/// Time-dependent state is stored relative to the moment of saving and re-based on the
/// restoring host's clock, so blobs move between processes with different clock origins.
/// </summary>
public interface IStatefulDevice
{
    byte[] SaveState();

    void RestoreState(ReadOnlySpan<byte> state);
}
