using Virt.Devices.Bus;

namespace Virt.Devices.Tests.Support;

/// <summary>Byte-wide port access, as guests mostly use inb/outb.</summary>
public static class PortExtensions
{
    public static byte In(this IDevice device, int port) => (byte)device.PortRead((ushort)port, 1);

    public static void Out(this IDevice device, int port, int value) => device.PortWrite((ushort)port, 1, (uint)value);
}
