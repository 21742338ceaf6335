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

    /// <summary>
    /// The same blob as <see cref="SaveState()"/>, written into a reused writer (which it restarts):
    /// what the device model's crash snapshot uses after every synchronous write, so a device on that
    /// path overrides it to allocate nothing. The default goes through <see cref="SaveState()"/>.
    /// </summary>
    void SaveState(StateWriter into) => into.Raw(SaveState());

    void RestoreState(ReadOnlySpan<byte> state);
}

/// <summary>
/// A device restored from a crash snapshot (a recent state of a device model that was killed) rather
/// than from state saved at a pause: the guest ran on after the snapshot, so the device must bring
/// itself to a state the guest's driver recovers from (e.g. re-raise an interrupt the driver waits for).
/// </summary>
public interface ICrashRecovery
{
    void RecoverAfterCrash();
}
