using Virt.Cpu.Memory;

namespace Virt.Pc.Boot;

/// <summary>
/// What a PC BIOS leaves in memory that a kernel started without one still looks at: an IVT whose
/// vectors all point at an IRET, a BIOS data area (COM1 at 0x3F8, the equipment word, 640 KiB of
/// base memory, no EBDA) and an MP table in the 0xF0000 segment so Linux can find the APICs.
/// Device state a BIOS would also leave (the PICs' vector bases 0x08/0x70, PIT channel 0 running
/// in mode 3 at 18.2 Hz) belongs to the monitor, which owns those devices: it is not done here.
/// </summary>
public static class PcBiosState
{
    /// <summary>F000:FF53, where IBM's BIOS kept its dummy interrupt handler (a lone IRET).</summary>
    public const uint IretStub = 0xF_FF53;
    public const uint MpTableAddress = 0xF_0000;
    private const uint BdaBase = 0x400;

    public static void Prepare(PhysicalMemory memory, MpTableBuilder? mpTable = null)
    {
        var ivt = new byte[256 * 4];
        for (int v = 0; v < 256; v++)
        {
            // Real-mode far pointer F000:FF53 (offset word, then segment word).
            ivt[v * 4 + 0] = 0x53;
            ivt[v * 4 + 1] = 0xFF;
            ivt[v * 4 + 2] = 0x00;
            ivt[v * 4 + 3] = 0xF0;
        }
        memory.Load(0, ivt);
        memory.Load(IretStub, [0xCF]);

        var bda = new byte[256];
        bda[0x00] = 0xF8; bda[0x01] = 0x03;          // COM1 base port 0x3F8
        bda[0x10] = 0x00; bda[0x11] = 0x02;          // equipment word: one serial port (bits 9-11)
        bda[0x13] = 640 & 0xFF; bda[0x14] = 640 >> 8; // base memory size in KiB
        bda[0x0E] = 0; bda[0x0F] = 0;                // EBDA segment: none
        memory.Load(BdaBase, bda);

        memory.Load(MpTableAddress, (mpTable ?? new MpTableBuilder()).Build(MpTableAddress));
    }
}
