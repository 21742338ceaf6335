using System.Buffers.Binary;
using System.Text;
using Virt.Pc.Board;

namespace Virt.Pc.Boot;

/// <summary>
/// Builds an Intel MultiProcessor Specification 1.4 table set (floating pointer + configuration
/// table) describing the machine Linux should find without ACPI: one processor (the BSP, local
/// APIC ID 0), one ISA bus, one I/O APIC, the ISA IRQs routed to its pins as the board wires them
/// (<see cref="PcInterruptRouting"/>: IRQ0 to pin 2, the others identity), and the local APIC's LINT0 = ExtINT, LINT1 = NMI.
/// The 8259 is reached through LINT0 only: no ExtINT entry on I/O APIC pin 0, since no firmware
/// programs one (Linux warns "ExtINT not setup in hardware but reported by MP table" otherwise).
/// </summary>
public sealed class MpTableBuilder
{
    public uint LocalApicAddress { get; init; } = PcMemoryMap.LocalApicBase;
    public uint IoApicAddress { get; init; } = PcMemoryMap.IoApicBase;
    public byte IoApicId { get; init; } = PcBoard.IoApicId;
    public byte IoApicVersion { get; init; } = 0x11;
    public byte LocalApicVersion { get; init; } = 0x14;
    public uint CpuSignature { get; init; } = 0x0683;
    public uint CpuFeatures { get; init; } = 0x0000_8B39;

    private const byte EntryProcessor = 0, EntryBus = 1, EntryIoApic = 2, EntryIoInterrupt = 3, EntryLocalInterrupt = 4;
    private const byte IntInt = 0, IntNmi = 1, IntExtInt = 3;

    /// <summary>
    /// Writes the floating pointer at <paramref name="address"/> (16-byte aligned, where Linux
    /// scans: 0xF0000-0xFFFFF or the last KiB of base memory) followed by the configuration table.
    /// Returns the bytes written, starting at <paramref name="address"/>.
    /// </summary>
    public byte[] Build(uint address)
    {
        if ((address & 15) != 0) throw new ArgumentException("the MP floating pointer must be 16-byte aligned", nameof(address));
        var entries = new List<byte[]>();
        int count = 0;

        var cpu = new byte[20];
        cpu[0] = EntryProcessor; cpu[1] = 0; cpu[2] = LocalApicVersion; cpu[3] = 0x03; // enabled, bootstrap processor
        BinaryPrimitives.WriteUInt32LittleEndian(cpu.AsSpan(4), CpuSignature);
        BinaryPrimitives.WriteUInt32LittleEndian(cpu.AsSpan(8), CpuFeatures);
        entries.Add(cpu); count++;

        var bus = new byte[8];
        bus[0] = EntryBus; bus[1] = 0;
        Encoding.ASCII.GetBytes("ISA   ").CopyTo(bus, 2);
        entries.Add(bus); count++;

        var io = new byte[8];
        io[0] = EntryIoApic; io[1] = IoApicId; io[2] = IoApicVersion; io[3] = 0x01; // enabled
        BinaryPrimitives.WriteUInt32LittleEndian(io.AsSpan(4), IoApicAddress);
        entries.Add(io); count++;

        foreach (var (irq, pin) in PcInterruptRouting.IoApicRoutes())
        {
            entries.Add(IoInterrupt(IntInt, (byte)irq, (byte)pin)); count++;
        }
        entries.Add(LocalInterrupt(IntExtInt, 0)); count++;
        entries.Add(LocalInterrupt(IntNmi, 1)); count++;

        int bodyLength = 0;
        foreach (var e in entries) bodyLength += e.Length;
        var table = new byte[44 + bodyLength];
        Encoding.ASCII.GetBytes("PCMP").CopyTo(table, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(table.AsSpan(4), (ushort)table.Length);
        table[6] = 4; // spec revision 1.4
        Encoding.ASCII.GetBytes("VIRT    ").CopyTo(table, 8);
        Encoding.ASCII.GetBytes("i686 PC     ").CopyTo(table, 16);
        BinaryPrimitives.WriteUInt16LittleEndian(table.AsSpan(34), (ushort)count);
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(36), LocalApicAddress);
        int o = 44;
        foreach (var e in entries) { e.CopyTo(table, o); o += e.Length; }
        table[7] = Checksum(table);

        var fp = new byte[16];
        Encoding.ASCII.GetBytes("_MP_").CopyTo(fp, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(fp.AsSpan(4), address + 16);
        fp[8] = 1;   // length in 16-byte paragraphs
        fp[9] = 4;   // spec revision 1.4
        fp[11] = 0;  // feature byte 1: 0 = a configuration table is present (no default configuration)
        fp[12] = 0;  // feature byte 2 bit 7 clear: virtual wire mode, no IMCR
        fp[10] = Checksum(fp);

        var all = new byte[16 + table.Length];
        fp.CopyTo(all, 0);
        table.CopyTo(all, 16);
        return all;
    }

    private byte[] IoInterrupt(byte type, byte irq, byte pin)
    {
        // Flags 0: polarity and trigger "conform to the bus" (ISA: active high, edge).
        return [EntryIoInterrupt, type, 0, 0, 0, irq, IoApicId, pin];
    }

    private static byte[] LocalInterrupt(byte type, byte lint) => [EntryLocalInterrupt, type, 0, 0, 0, 0, 0xFF, lint];

    /// <summary>The byte that makes the sum of all bytes zero (the checksum byte itself must be 0 when called).</summary>
    public static byte Checksum(ReadOnlySpan<byte> bytes)
    {
        byte sum = 0;
        foreach (byte b in bytes) sum += b;
        return (byte)(0 - sum);
    }
}
