using Iced.Intel;
using Virt.Cpu.State;
using Virt.Pc.Boot;

namespace Virt.Cpu.Tests.Support;

/// <summary>
/// A flat 32-bit protected-mode guest with its own GDT, IDT and TSS in guest memory, entered
/// through LGDT/LIDT/LTR and far jumps executed by the CPU itself (no descriptor caches preloaded).
/// Layout (physical = linear): GDT 0x1000, IDT 0x2000, TSS 0x3000, TSS2 0x3100, code 0x10000,
/// handlers assembled by the test, stacks 0x80000 (ring 0) and 0x70000 (ring 3).
/// </summary>
public sealed class ProtectedModeGuest
{
    public const uint Gdt = 0x1000, Idt = 0x2000, Tss = 0x3000, Tss2 = 0x3100, Code = 0x10000;
    public const ushort KCode = 0x08, KData = 0x10, UCode = 0x1B, UData = 0x23, TssSel = 0x28, Tss2Sel = 0x30;

    private readonly TestMachine _m;

    public ProtectedModeGuest(TestMachine m)
    {
        _m = m;
        WriteGdt(0, 0);
        WriteGdt(1, Descriptors.Code32());
        WriteGdt(2, Descriptors.Data32());
        WriteGdt(3, Descriptors.Code32(3));
        WriteGdt(4, Descriptors.Data32(3));
        WriteGdt(5, Descriptors.Tss32(Tss));
        WriteGdt(6, Descriptors.Tss32(Tss2));
        // Ring-0 stack for privilege changes: TSS.ESP0 / SS0.
        m.Memory.Write32(Tss + 4, 0x80000);
        m.Memory.Write32(Tss + 8, KData);
        m.Memory.Write16(Tss + 0x66, 0x68); // I/O bitmap base beyond the limit: no bitmap
    }

    public void WriteGdt(int index, ulong d) => _m.Memory.Write64(Gdt + (uint)index * 8, d);

    public void WriteIdt(int vector, ulong gate) => _m.Memory.Write64(Idt + (uint)vector * 8, gate);

    /// <summary>Starts the CPU in real mode at 0:0x7C00 with a stub that enters protected mode the way a boot loader does, then jumps to the body at Code.</summary>
    public void Load(Action<Assembler> body, int gdtEntries = 8)
    {
        var a = new Assembler(32);
        body(a);
        _m.Memory.Load(Code, TestMachine.Assemble(a, Code));

        // Real-mode stub: lgdt, lidt, set PE, far jump to the 32-bit entry.
        var gdtr = new byte[6];
        BitConverter.TryWriteBytes(gdtr.AsSpan(0), (ushort)(gdtEntries * 8 - 1));
        BitConverter.TryWriteBytes(gdtr.AsSpan(2), Gdt);
        var idtr = new byte[6];
        BitConverter.TryWriteBytes(idtr.AsSpan(0), (ushort)(256 * 8 - 1));
        BitConverter.TryWriteBytes(idtr.AsSpan(2), Idt);
        _m.Memory.Load(0x500, gdtr);
        _m.Memory.Load(0x508, idtr);
        var s = new Assembler(16);
        s.lgdt(AssemblerRegisters.__[0x500]);
        s.lidt(AssemblerRegisters.__[0x508]);
        s.mov(AssemblerRegisters.eax, AssemblerRegisters.cr0);
        s.or(AssemblerRegisters.eax, 1);
        s.mov(AssemblerRegisters.cr0, AssemblerRegisters.eax);
        s.db(0x66, 0xEA); // jmp far dword KCode:entry
        s.dd(0x7E00);
        s.dw(KCode);
        _m.Memory.Load(0x7C00, TestMachine.Assemble(s, 0x7C00));

        // 32-bit entry: data segments, stack, TR, then the body.
        var e = new Assembler(32);
        e.mov(AssemblerRegisters.ax, KData);
        e.mov(AssemblerRegisters.ds, AssemblerRegisters.ax);
        e.mov(AssemblerRegisters.es, AssemblerRegisters.ax);
        e.mov(AssemblerRegisters.ss, AssemblerRegisters.ax);
        e.mov(AssemblerRegisters.fs, AssemblerRegisters.ax);
        e.mov(AssemblerRegisters.gs, AssemblerRegisters.ax);
        e.mov(AssemblerRegisters.esp, 0x80000);
        e.mov(AssemblerRegisters.ax, TssSel);
        e.ltr(AssemblerRegisters.ax);
        e.mov(AssemblerRegisters.eax, Code);
        e.jmp(AssemblerRegisters.eax);
        _m.Memory.Load(0x7E00, TestMachine.Assemble(e, 0x7E00));

        FlatLoader.EnterRealMode(_m.Cpu, 0, 0x7C00);
    }

    /// <summary>Assembles a handler at a fixed address and returns the address.</summary>
    public uint Handler(uint address, Action<Assembler> code)
    {
        var a = new Assembler(32);
        code(a);
        _m.Memory.Load(address, TestMachine.Assemble(a, address));
        return address;
    }

    public static ushort Selector(int index, int rpl = 0) => (ushort)(index * 8 | rpl);

    public SegmentRegister Cs => _m.Cpu.State.Cs;
}
