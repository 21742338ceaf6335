using Virt.Devices.Bus;

namespace Virt.Pc.Board;

/// <summary>
/// One device of the board: its name (the name virt-dm's --devices takes for a device-model
/// device), the process that hosts it, the port and MMIO ranges it answers, and the ISA lines it drives.
/// </summary>
public sealed record BoardDevice(string Name, DeviceHome Home, IReadOnlyList<BusRange> Ranges, IReadOnlyList<int> IrqLines)
{
    public override string ToString() => $"{Name} ({Home}: {string.Join(", ", Ranges)}{(IrqLines.Count > 0 ? $"; IRQ {string.Join(", ", IrqLines)}" : "")})";
}
