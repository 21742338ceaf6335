namespace Virt.Devices.Sinks;

/// <summary>
/// Where a character device's output goes (UART transmitter, debug console). Called on the
/// device's thread for every byte, as soon as the guest sends it; implementations must not block
/// for long (buffer, or use the UART's transmitter pause for back-pressure).
/// </summary>
public interface IByteSink
{
    void Write(byte value);
}
