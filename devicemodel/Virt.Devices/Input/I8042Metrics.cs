using Virt.Devices.Metrics;

namespace Virt.Devices.Input;

/// <summary>What an <see cref="I8042Controller"/> observes: commands to the controller and the keyboard, resets and A20 switches asked for.</summary>
public sealed class I8042Metrics(string device) : IDeviceMetrics
{
    public string Device { get; } = device;

    /// <summary>Controller commands (writes to port 0x64).</summary>
    public long Commands { get; internal set; }

    /// <summary>Bytes sent to the keyboard (writes to port 0x60 that no controller command was waiting for).</summary>
    public long KeyboardCommands { get; internal set; }

    /// <summary>Resets the guest asked for (the 0xFE pulse, or the output port's reset bit cleared).</summary>
    public long ResetRequests { get; internal set; }

    /// <summary>Changes of the A20 gate through the output port.</summary>
    public long A20Changes { get; internal set; }

    public IReadOnlyList<DeviceCounter> Snapshot() =>
    [
        new("commands", Commands),
        new("keyboard_commands", KeyboardCommands),
        new("reset_requests", ResetRequests),
        new("a20_changes", A20Changes),
    ];
}
