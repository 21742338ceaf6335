namespace Virt.Monitor.Launch;

/// <summary>
/// A device model the monitor started: the command (to start it again) and its process; whether it
/// may raise platform events (it replaces one that could: docs/device-models.md, "Platform events").
/// </summary>
public sealed record LaunchedDeviceModel(DeviceModelCommand Command, DeviceModelProcess Process, bool PlatformAuthority = false);
