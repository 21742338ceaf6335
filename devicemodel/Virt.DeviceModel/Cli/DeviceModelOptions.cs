namespace Virt.DeviceModel.Cli;

/// <summary>What virt-dm's command line chose (<see cref="DeviceModelOptionSet"/>). The secret never appears here: it comes from the environment.</summary>
public sealed record DeviceModelOptions(string SocketPath, string Serial, string Name, IReadOnlySet<string>? Devices = null);
