namespace Virt.Monitor.Debug;

/// <summary>What one byte from the debugger completed, if anything.</summary>
public enum GdbInput
{
    /// <summary>Nothing yet (inside a packet, or noise between packets).</summary>
    None,
    /// <summary>A packet with a good checksum: <see cref="GdbPacketReader.Packet"/> holds it; acknowledge with '+'.</summary>
    Packet,
    /// <summary>A packet whose checksum (or checksum digits) is wrong: ask for it again with '-'.</summary>
    BadChecksum,
    /// <summary>A packet longer than <see cref="GdbPacketReader.MaxPacket"/>: dropped whole, answered with '-'.</summary>
    TooLong,
    /// <summary>0x03 between packets: the user pressed Ctrl-C.</summary>
    Interrupt,
    /// <summary>'+' or '-' for a packet the stub sent.</summary>
    Ack,
    Nak,
}
