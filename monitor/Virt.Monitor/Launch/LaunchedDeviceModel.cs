namespace Virt.Monitor.Launch;

/// <summary>A device model the monitor started: the command (to start it again) and its process.</summary>
public sealed record LaunchedDeviceModel(DeviceModelCommand Command, DeviceModelProcess Process);
