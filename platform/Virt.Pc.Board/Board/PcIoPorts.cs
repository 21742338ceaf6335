namespace Virt.Pc.Board;

/// <summary>The PC's I/O port map: the first port of each device and how many it decodes.</summary>
public static class PcIoPorts
{
    /// <summary>Master 8259: command, data.</summary>
    public const ushort MasterPic = 0x20;
    /// <summary>Slave 8259: command, data.</summary>
    public const ushort SlavePic = 0xA0;
    public const ushort PicPortCount = 2;
    /// <summary>The edge/level control registers of both 8259s (master, slave).</summary>
    public const ushort PicElcr = 0x4D0;
    public const ushort PicElcrCount = 2;

    /// <summary>8254 PIT: channels 0-2, control.</summary>
    public const ushort Pit = 0x40;
    public const ushort PitPortCount = 4;
    /// <summary>System control port B: PIT channel 2 gate and output, speaker, refresh toggle.</summary>
    public const ushort SystemControlB = 0x61;

    /// <summary>i8042: data and status/command.</summary>
    public const ushort I8042Data = 0x60;
    public const ushort I8042Status = 0x64;

    /// <summary>RTC/CMOS: index, data.</summary>
    public const ushort Rtc = 0x70;
    public const ushort RtcPortCount = 2;

    /// <summary>The POST code port firmware writes progress to.</summary>
    public const ushort PostCode = 0x80;

    /// <summary>Bochs/QEMU debug console (one byte out per write).</summary>
    public const ushort DebugConsole = 0xE9;

    /// <summary>QEMU's isa-debug-exit: a write ends the run with status (value &lt;&lt; 1) | 1.</summary>
    public const ushort DebugExit = 0xF4;

    /// <summary>COM1's 16550A: eight registers.</summary>
    public const ushort Com1 = 0x3F8;
    public const ushort UartPortCount = 8;

    /// <summary>PCI configuration mechanism #1: address 0xCF8, reset control 0xCF9, data 0xCFC-0xCFF.</summary>
    public const ushort PciConfig = 0xCF8;
    public const ushort PciConfigPortCount = 8;
}
