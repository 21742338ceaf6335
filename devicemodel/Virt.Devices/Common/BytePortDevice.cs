using Virt.Devices.Bus;
using Virt.Shared.Routing;

namespace Virt.Devices.Common;

/// <summary>
/// Base for devices whose registers are all 8 bits wide (every legacy PC device here). Wider
/// accesses are split into byte accesses at consecutive ports, as the ISA bus does; bytes that
/// fall outside the device's ranges read as 0xFF (a floating bus) and their writes are dropped.
/// </summary>
public abstract class BytePortDevice : IDevice
{
    public abstract string Name { get; }

    public abstract IReadOnlyList<BusRange> Ranges { get; }

    public abstract void Attach(IDeviceHost host);

    /// <summary>Reads one register; <paramref name="port"/> is inside the device's ranges.</summary>
    protected abstract byte ReadByte(ushort port);

    /// <summary>Writes one register; <paramref name="port"/> is inside the device's ranges.</summary>
    protected abstract void WriteByte(ushort port, byte value);

    public virtual uint PortRead(ushort port, int size)
    {
        if (size == 1)
            return ReadByte(port);
        uint value = 0;
        for (int i = 0; i < size; i++)
        {
            var p = (ushort)(port + i);
            uint b = Claims(p) ? ReadByte(p) : 0xFFu;
            value |= b << (8 * i);
        }
        return value;
    }

    public virtual void PortWrite(ushort port, int size, uint value)
    {
        if (size == 1)
        {
            WriteByte(port, (byte)value);
            return;
        }
        for (int i = 0; i < size; i++)
        {
            var p = (ushort)(port + i);
            if (Claims(p))
                WriteByte(p, (byte)(value >> (8 * i)));
        }
    }

    /// <summary>True when the port lies in one of this device's port ranges.</summary>
    protected bool Claims(ushort port)
    {
        var ranges = Ranges;
        for (int i = 0; i < ranges.Count; i++)
        {
            if (ranges[i].Space == AddressSpace.Port && ranges[i].Contains(port))
                return true;
        }
        return false;
    }
}
