using Virt.Monitor.Transport;

namespace Virt.Monitor.Attachment;

/// <summary>What a new attachment's port calls back into the VM: platform events, RAM it wrote, and its loss.</summary>
public sealed record PortHooks(Action<uint, string>? PlatformEventRaised, Action<uint, uint>? RamWritten, DeviceModelLostHandler Lost);
