using System.Globalization;
using Virt.Shared.Abi;

namespace Virt.Monitor.Transport;

/// <summary>An exit a device model did not complete: kept so it can be shown and re-issued to the model that takes over.</summary>
public sealed record InFlightExit(ExitReason Reason, ulong Address, int Size, ExitDirection Direction, ulong Data, ExitFlags Flags, uint Count)
{
    public override string ToString()
    {
        var ci = CultureInfo.InvariantCulture;
        string where = Reason == ExitReason.PortIo ? string.Create(ci, $"port 0x{Address:X}") : string.Create(ci, $"MMIO 0x{Address:X}");
        string what = Direction == ExitDirection.Read ? "read" : string.Create(ci, $"write 0x{Data:X}");
        string str = (Flags & ExitFlags.String) != 0 ? string.Create(ci, $" string x{Count}") : "";
        return string.Create(ci, $"{where} {what} size {Size}{str}");
    }
}
