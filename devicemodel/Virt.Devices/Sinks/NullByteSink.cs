namespace Virt.Devices.Sinks;

/// <summary>Discards output: a UART with nothing connected.</summary>
public sealed class NullByteSink : IByteSink
{
    public static readonly NullByteSink Instance = new();

    private NullByteSink() { }

    public void Write(byte value) { }
}
