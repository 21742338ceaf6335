namespace Virt.Devices.State;

/// <summary>A saved device state that cannot be restored: wrong device, unknown version or damaged.</summary>
public sealed class DeviceStateException : Exception
{
    public DeviceStateException(string message) : base(message) { }
}
