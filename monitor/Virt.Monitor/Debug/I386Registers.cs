using System.Buffers.Binary;
using Virt.Cpu.Fpu;
using Virt.Cpu.State;

namespace Virt.Monitor.Debug;

/// <summary>
/// The i386 register file as gdb sees it: the target description (target.xml, sent with
/// qXfer:features:read) and each register's bytes by number, in the description's order, for
/// g/G/p/P. gdb's own features: org.gnu.gdb.i386.core (the eight GPRs, EIP, EFLAGS, the six
/// segment selectors, ST0-ST7 and the x87 control registers: no SSE, this CPU has none), then this
/// monitor's org.virt.i386.system with the segment bases and control registers, which gdb shows in
/// `info registers` as extras. (gdb's org.gnu.gdb.i386.segments is left out: gdb 13 takes it for
/// 64-bit register numbering and stops with an internal error on an i386 description that has it.)
/// </summary>
public static class I386Registers
{
    private enum Kind { Gpr, Eip, Eflags, Selector, St, Fpu, SegmentBase, Control }

    private readonly record struct Register(string Name, int Bits, Kind Kind, int Index, string Type, string Feature, string? Group = null);

    private const string Core = "org.gnu.gdb.i386.core", Sys = "org.virt.i386.system";

    // Segment indices in CpuState order: ES CS SS DS FS GS; gdb lists cs ss ds es fs gs.
    private static readonly Register[] s_registers =
    [
        new("eax", 32, Kind.Gpr, 0, "int32", Core), new("ecx", 32, Kind.Gpr, 1, "int32", Core),
        new("edx", 32, Kind.Gpr, 2, "int32", Core), new("ebx", 32, Kind.Gpr, 3, "int32", Core),
        new("esp", 32, Kind.Gpr, 4, "data_ptr", Core), new("ebp", 32, Kind.Gpr, 5, "data_ptr", Core),
        new("esi", 32, Kind.Gpr, 6, "int32", Core), new("edi", 32, Kind.Gpr, 7, "int32", Core),
        new("eip", 32, Kind.Eip, 0, "code_ptr", Core), new("eflags", 32, Kind.Eflags, 0, "i386_eflags", Core),
        new("cs", 32, Kind.Selector, SegmentIndex.CS, "int32", Core), new("ss", 32, Kind.Selector, SegmentIndex.SS, "int32", Core),
        new("ds", 32, Kind.Selector, SegmentIndex.DS, "int32", Core), new("es", 32, Kind.Selector, SegmentIndex.ES, "int32", Core),
        new("fs", 32, Kind.Selector, SegmentIndex.FS, "int32", Core), new("gs", 32, Kind.Selector, SegmentIndex.GS, "int32", Core),
        new("st0", 80, Kind.St, 0, "i387_ext", Core), new("st1", 80, Kind.St, 1, "i387_ext", Core),
        new("st2", 80, Kind.St, 2, "i387_ext", Core), new("st3", 80, Kind.St, 3, "i387_ext", Core),
        new("st4", 80, Kind.St, 4, "i387_ext", Core), new("st5", 80, Kind.St, 5, "i387_ext", Core),
        new("st6", 80, Kind.St, 6, "i387_ext", Core), new("st7", 80, Kind.St, 7, "i387_ext", Core),
        new("fctrl", 32, Kind.Fpu, 0, "int", Core, "float"), new("fstat", 32, Kind.Fpu, 1, "int", Core, "float"),
        new("ftag", 32, Kind.Fpu, 2, "int", Core, "float"), new("fiseg", 32, Kind.Fpu, 3, "int", Core, "float"),
        new("fioff", 32, Kind.Fpu, 4, "int", Core, "float"), new("foseg", 32, Kind.Fpu, 5, "int", Core, "float"),
        new("fooff", 32, Kind.Fpu, 6, "int", Core, "float"), new("fop", 32, Kind.Fpu, 7, "int", Core, "float"),
        new("fs_base", 32, Kind.SegmentBase, SegmentIndex.FS, "int", Sys, "system"), new("gs_base", 32, Kind.SegmentBase, SegmentIndex.GS, "int", Sys, "system"),
        new("cs_base", 32, Kind.SegmentBase, SegmentIndex.CS, "int", Sys, "system"), new("ss_base", 32, Kind.SegmentBase, SegmentIndex.SS, "int", Sys, "system"),
        new("ds_base", 32, Kind.SegmentBase, SegmentIndex.DS, "int", Sys, "system"), new("es_base", 32, Kind.SegmentBase, SegmentIndex.ES, "int", Sys, "system"),
        new("cr0", 32, Kind.Control, 0, "int", Sys, "system"), new("cr2", 32, Kind.Control, 2, "int", Sys, "system"),
        new("cr3", 32, Kind.Control, 3, "int", Sys, "system"), new("cr4", 32, Kind.Control, 4, "int", Sys, "system"),
    ];

    public static int Count => s_registers.Length;

    /// <summary>Bytes of register <paramref name="number"/> in the g packet.</summary>
    public static int Size(int number) => s_registers[number].Bits / 8;

    /// <summary>Bytes of the whole g packet.</summary>
    public static int TotalSize { get; } = s_registers.Sum(r => r.Bits / 8);

    public static string TargetXml { get; } = BuildXml();

    private static string BuildXml()
    {
        var sb = new System.Text.StringBuilder();
        sb.Append("<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target version=\"1.0\">\n<architecture>i386</architecture>\n");
        foreach (var feature in s_registers.GroupBy(r => r.Feature))
        {
            sb.Append($"<feature name=\"{feature.Key}\">\n");
            if (feature.Key == Core) sb.Append(EflagsType);
            foreach (Register r in feature)
                sb.Append($"  <reg name=\"{r.Name}\" bitsize=\"{r.Bits}\" type=\"{r.Type}\"{(r.Group is { } g ? $" group=\"{g}\"" : "")}/>\n");
            sb.Append("</feature>\n");
        }
        sb.Append("</target>\n");
        return sb.ToString();
    }

    private const string EflagsType = """
          <flags id="i386_eflags" size="4">
            <field name="CF" start="0" end="0"/>
            <field name="" start="1" end="1"/>
            <field name="PF" start="2" end="2"/>
            <field name="AF" start="4" end="4"/>
            <field name="ZF" start="6" end="6"/>
            <field name="SF" start="7" end="7"/>
            <field name="TF" start="8" end="8"/>
            <field name="IF" start="9" end="9"/>
            <field name="DF" start="10" end="10"/>
            <field name="OF" start="11" end="11"/>
            <field name="NT" start="14" end="14"/>
            <field name="RF" start="16" end="16"/>
            <field name="VM" start="17" end="17"/>
            <field name="AC" start="18" end="18"/>
            <field name="VIF" start="19" end="19"/>
            <field name="VIP" start="20" end="20"/>
            <field name="ID" start="21" end="21"/>
          </flags>

        """;

    /// <summary>Writes register <paramref name="number"/> of the parked CPU into <paramref name="into"/> (<see cref="Size"/> bytes, little-endian).</summary>
    public static void Read(Cpu.Cpu cpu, int number, Span<byte> into)
    {
        Register r = s_registers[number];
        CpuState s = cpu.State;
        if (r.Kind == Kind.St)
        {
            cpu.Fpu.GetStackRegister(r.Index).WriteTo(into);
            return;
        }
        uint v = r.Kind switch
        {
            Kind.Gpr => s[r.Index],
            Kind.Eip => s.Eip,
            Kind.Eflags => s.Eflags,
            Kind.Selector => s.GetSegment(r.Index).Selector,
            Kind.SegmentBase => s.GetSegment(r.Index).Base,
            Kind.Control => r.Index switch { 0 => s.Cr0, 2 => s.Cr2, 3 => s.Cr3, _ => s.Cr4 },
            _ => FpuRead(cpu.Fpu, r.Index),
        };
        BinaryPrimitives.WriteUInt32LittleEndian(into, v);
    }

    private static uint FpuRead(X87Fpu f, int i) => i switch
    {
        0 => f.ControlWord,
        1 => f.StatusWord,
        2 => f.TagWord,
        3 => f.CodeSelector,
        4 => f.InstructionPointer,
        5 => f.DataSelector,
        6 => f.DataPointer,
        _ => f.LastOpcode,
    };

    /// <summary>
    /// Sets register <paramref name="number"/> of the parked CPU from <paramref name="from"/>; null when done, else why not.
    /// A segment selector changes only in real or virtual-8086 mode (base = selector × 16): in protected mode
    /// it would need a descriptor load the guest did not do. Control registers and segment bases are read-only.
    /// </summary>
    public static string? Write(Cpu.Cpu cpu, int number, ReadOnlySpan<byte> from)
    {
        Register r = s_registers[number];
        CpuState s = cpu.State;
        if (r.Kind == Kind.St)
        {
            cpu.Fpu.SetPhysicalRegister(cpu.Fpu.Top + r.Index, Float80.FromBytes(from));
            return null;
        }
        uint v = BinaryPrimitives.ReadUInt32LittleEndian(from);
        byte[] now = new byte[4];
        Read(cpu, number, now);
        if (BinaryPrimitives.ReadUInt32LittleEndian(now) == v) return null; // unchanged: always fine (a G packet resends everything)
        switch (r.Kind)
        {
            case Kind.Gpr: s[r.Index] = v; return null;
            case Kind.Eip: s.Eip = v; return null;
            case Kind.Eflags: s.Eflags = v | Flags.Reserved1; return null;
            case Kind.Selector:
                bool realAddressing = (s.Cr0 & ControlBits.CR0_PE) == 0 || (s.Eflags & Flags.VM) != 0;
                if (!realAddressing || v > 0xFFFF) return $"{r.Name}: a selector changes only in real or virtual-8086 mode";
                SegmentRegister old = s.GetSegment(r.Index);
                s.SetSegment(r.Index, SegmentRegister.RealMode((ushort)v, old.Attributes));
                return null;
            case Kind.Fpu:
                X87Fpu f = cpu.Fpu;
                switch (r.Index)
                {
                    case 0: f.ControlWord = (ushort)v; break;
                    case 1: f.StatusWord = (ushort)v; break;
                    case 2: f.TagWord = (ushort)v; break;
                    case 3: f.CodeSelector = (ushort)v; break;
                    case 4: f.InstructionPointer = v; break;
                    case 5: f.DataSelector = (ushort)v; break;
                    case 6: f.DataPointer = v; break;
                    default: f.LastOpcode = (ushort)(v & 0x7FF); break;
                }
                return null;
            default:
                return $"{r.Name} is read-only here";
        }
    }

    /// <summary>The register numbers in the order a G packet is best applied: the x87 status word (TOP) before ST0-ST7, which are relative to it.</summary>
    public static IEnumerable<int> WriteOrder() =>
        Enumerable.Range(0, Count).OrderBy(n => s_registers[n].Kind == Kind.St ? 1 : 0);

    /// <summary>Byte offset of register <paramref name="number"/> in the g packet.</summary>
    public static int Offset(int number)
    {
        int o = 0;
        for (int i = 0; i < number; i++) o += Size(i);
        return o;
    }
}
