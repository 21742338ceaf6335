using Iced.Intel;

namespace Virt.Cpu.Tests.Linux;

/// <summary>
/// A ring of the last instructions a guest executed (linear EIP, bytes disassembled, a few
/// registers), filled by single-stepping: slow, for finding where a boot goes wrong.
/// Reads code through physical memory, so it is only exact while paging is off or identity-mapped
/// at the traced addresses (good enough for the decompressor and early head_32.S).
/// </summary>
public sealed class GuestTracer(Cpu cpu, int capacity = 64)
{
    private readonly Queue<string> _ring = new();
    private long _written;

    /// <summary>Optional: every recorded line is also written here (up to <see cref="FileLimit"/> lines).</summary>
    public TextWriter? File { get; set; }

    public long FileLimit { get; set; } = 1_000_000;

    public void Record()
    {
        var s = cpu.State;
        uint lin = s.Cs.Base + s.Eip;
        string text;
        try
        {
            uint phys = Translate(lin);
            var bytes = new byte[16];
            cpu.Memory.Read(phys, bytes);
            var dec = Decoder.Create(s.Cs.Attributes is var a && (a & 0x4000) != 0 ? 32 : 16, new ByteArrayCodeReader(bytes), s.Eip);
            dec.Decode(out var ins);
            text = ins.ToString();
        }
        catch (Exception e)
        {
            text = "<" + e.GetType().Name + ">";
        }
        string line = $"{lin:X8}: {text,-40} eax={s.Eax:X8} ebx={s.Ebx:X8} ecx={s.Ecx:X8} edx={s.Edx:X8} esi={s.Esi:X8} edi={s.Edi:X8} ebp={s.Ebp:X8} esp={s.Esp:X8} fl={s.Eflags:X}";
        _ring.Enqueue(line);
        if (File != null && _written++ < FileLimit) File.WriteLine(line);
        if (_ring.Count > capacity) _ring.Dequeue();
    }

    /// <summary>Walks the guest's 2-level page tables (4 KiB and 4 MiB pages) when paging is on.</summary>
    private uint Translate(uint lin)
    {
        var s = cpu.State;
        if ((s.Cr0 & 0x8000_0000) == 0) return lin;
        uint pde = cpu.Memory.Read32((s.Cr3 & 0xFFFF_F000) + ((lin >> 22) << 2));
        if ((pde & 1) == 0) throw new InvalidOperationException("not present");
        if ((pde & 0x80) != 0 && (s.Cr4 & 0x10) != 0) return (pde & 0xFFC0_0000) | (lin & 0x3F_FFFF);
        uint pte = cpu.Memory.Read32((pde & 0xFFFF_F000) + (((lin >> 12) & 0x3FF) << 2));
        if ((pte & 1) == 0) throw new InvalidOperationException("not present");
        return (pte & 0xFFFF_F000) | (lin & 0xFFF);
    }

    public IEnumerable<string> Lines => _ring;

    /// <summary>Disassembles guest code at a linear address (through the guest's page tables).</summary>
    public IEnumerable<string> Disassemble(uint linear, int length)
    {
        var bytes = new byte[length + 16];
        for (int i = 0; i < bytes.Length; i++)
        {
            try { bytes[i] = cpu.Memory.Read8(Translate(linear + (uint)i)); } catch (InvalidOperationException) { break; }
        }
        var dec = Decoder.Create(32, new ByteArrayCodeReader(bytes), linear);
        while (dec.IP < linear + (ulong)length)
        {
            dec.Decode(out var ins);
            yield return $"{ins.IP:X8}: {ins}";
        }
    }
}
