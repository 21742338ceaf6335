using System.Buffers.Binary;
using Virt.Cpu.Memory;
using Virt.Pc.Board;

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
    public const uint IretStub = PcMemoryMap.BiosSegment + IretStubOffset;
    public const uint MpTableAddress = PcMemoryMap.BiosSegment;
    private const ushort IretStubOffset = 0xFF53, IretStubSegment = (ushort)(PcMemoryMap.BiosSegment >> 4);
    private const byte Iret = 0xCF;
    private const int VectorCount = 256;

    // BIOS data area offsets (from PcMemoryMap.BiosDataArea) and the equipment word's serial-port count.
    private const int BdaCom1Base = 0x00, BdaEbdaSegment = 0x0E, BdaEquipment = 0x10, BdaBaseMemoryKiB = 0x13, BdaSize = 256;
    private const ushort EquipmentOneSerialPort = 1 << 9; // bits 9-11: the number of serial ports

    public static void Prepare(PhysicalMemory memory, MpTableBuilder? mpTable = null)
    {
        var ivt = new byte[VectorCount * 4];
        for (int v = 0; v < VectorCount; v++)
        {
            // Real-mode far pointer F000:FF53 (offset word, then segment word).
            BinaryPrimitives.WriteUInt16LittleEndian(ivt.AsSpan(v * 4), IretStubOffset);
            BinaryPrimitives.WriteUInt16LittleEndian(ivt.AsSpan(v * 4 + 2), IretStubSegment);
        }
        memory.Load(PcMemoryMap.InterruptVectorTable, ivt);
        memory.Load(IretStub, [Iret]);

        var bda = new byte[BdaSize];
        BinaryPrimitives.WriteUInt16LittleEndian(bda.AsSpan(BdaCom1Base), PcIoPorts.Com1);
        BinaryPrimitives.WriteUInt16LittleEndian(bda.AsSpan(BdaEquipment), EquipmentOneSerialPort);
        BinaryPrimitives.WriteUInt16LittleEndian(bda.AsSpan(BdaBaseMemoryKiB), PcMemoryMap.BaseMemoryKiB);
        BinaryPrimitives.WriteUInt16LittleEndian(bda.AsSpan(BdaEbdaSegment), 0); // no EBDA
        memory.Load(PcMemoryMap.BiosDataArea, bda);

        memory.Load(MpTableAddress, (mpTable ?? new MpTableBuilder()).Build(MpTableAddress));
    }
}
