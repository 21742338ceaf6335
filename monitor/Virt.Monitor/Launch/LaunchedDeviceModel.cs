namespace Virt.Monitor.Launch;

/// <summary>
/// A device model the monitor started: the command (to start it again) and its process; whether it
/// may raise platform events (it replaces one that could: docs/device-models.md, "Platform events");
/// the device state it is to restore after its Welcome when it is started for a restored snapshot.
/// </summary>
public sealed record LaunchedDeviceModel(DeviceModelCommand Command, DeviceModelProcess Process, bool PlatformAuthority = false,
    IReadOnlyList<Virt.Shared.Control.DeviceState>? RestoreState = null);
