namespace Virt.Devices.Sinks;

/// <summary>Writes each byte to a stream (a console, a log file, a socket), flushing on newline if asked.</summary>
public sealed class StreamByteSink : IByteSink
{
    private readonly Stream _stream;
    private readonly bool _flushOnNewline;

    public StreamByteSink(Stream stream, bool flushOnNewline = true)
    {
        _stream = stream;
        _flushOnNewline = flushOnNewline;
    }

    public void Write(byte value)
    {
        _stream.WriteByte(value);
        if (_flushOnNewline && value == (byte)'\n')
            _stream.Flush();
    }
}
