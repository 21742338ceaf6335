using Iced.Intel;
using Virt.Cpu.Firmware;
using Virt.Cpu.Paravirt;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests.Firmware;

/// <summary>
/// A protected-mode guest with a firmware that claims ports 0x3F8-0x3FF and one MMIO page
/// (docs/firmware-reflection.md), its handler assembled with Iced: a register file of 256 bytes
/// (<see cref="Registers"/>) that OUT and MMIO writes fill and IN and MMIO reads answer from, INS
/// elements 0x40, 0x41, ... and every OUTS byte appended to <see cref="Log"/>. Before RSM it
/// overwrites every general register and flag, so a test sees that RSM puts the guest's back.
/// </summary>
public static class FirmwareGuest
{
    public const uint Base = 0x00F0_0000, Size = 0x10000;
    public const uint Registers = Base + 0x8000, LogCount = Base + 0x8F00, Log = Base + 0x9000;
    public const ushort Port = 0x3F8;
    public const uint Mmio = 0xE000_0000;
    public const uint Out = 0x6000, Buffer = 0x40000;

    /// <summary>The standard handler, or <paramref name="handler"/> in its place.</summary>
    public static TestMachine Machine(string engine, Action<Assembler> guest, Action<Assembler>? handler = null, Action<TestMachine, ProtectedModeGuest>? setup = null)
    {
        var m = new TestMachine();
        Engines.Use(m, engine);
        var a = new Assembler(32);
        (handler ?? Handler)(a);
        m.Cpu.LoadFirmware(Base, Size, TestMachine.Assemble(a, Base + FirmwareAbi.Image));
        m.Cpu.ClaimPortsForFirmware(Port, 8);
        m.Cpu.ClaimMmioForFirmware(Mmio, 0x1000);
        var g = new ProtectedModeGuest(m);
        setup?.Invoke(m, g);
        g.Load(guest);
        return m;
    }

    /// <summary>A machine like <see cref="Machine"/> but without firmware: every access goes to the test's exit handler.</summary>
    public static TestMachine Plain(string engine, Action<Assembler> guest)
    {
        var m = new TestMachine();
        Engines.Use(m, engine);
        new ProtectedModeGuest(m).Load(guest);
        return m;
    }

    public static uint Call(VirtCall c) => Base + FirmwareAbi.CallTable + (uint)c * VirtAbi.EntrySize;

    /// <summary>EAX kind, ECX size, EDX port or address, EBX request block, ESI count, EDI data.</summary>
    public static void Handler(Assembler a)
    {
        Label portIn = a.CreateLabel(), portOut = a.CreateLabel(), mmioRead = a.CreateLabel(), done = a.CreateLabel(), ins = a.CreateLabel(), outs = a.CreateLabel(), fill = a.CreateLabel();
        a.cmp(eax, FirmwareAbi.KindPortIn); a.je(portIn);
        a.cmp(eax, FirmwareAbi.KindPortOut); a.je(portOut);
        a.cmp(eax, FirmwareAbi.KindMmioRead); a.je(mmioRead);
        // MMIO write: the data's size bytes into the register file.
        a.and(edx, 0xFF);
        a.lea(esi, __[ebx + FirmwareAbi.RequestData]);
        a.lea(edi, __[edx + Registers]);
        a.rep.movsb();
        a.jmp(done);

        a.Label(ref mmioRead);
        a.and(edx, 0xFF);
        a.lea(esi, __[edx + Registers]);
        a.lea(edi, __[ebx + FirmwareAbi.RequestData]);
        a.mov(ecx, 8);
        a.rep.movsb();
        a.jmp(done);

        a.Label(ref portIn);
        a.test(__dword_ptr[ebx + FirmwareAbi.RequestFlags], FirmwareAbi.FlagString); a.jnz(ins);
        a.and(edx, 0xFF);
        a.lea(esi, __[edx + Registers]);
        a.lea(edi, __[ebx + FirmwareAbi.RequestData]);
        a.mov(ecx, 8);
        a.rep.movsb();
        a.jmp(done);
        a.Label(ref ins);
        a.imul(esi, ecx);                                   // bytes = count * size
        a.mov(edi, __dword_ptr[ebx + FirmwareAbi.RequestBuffer]);
        a.xor(eax, eax);
        a.Label(ref fill);
        a.cmp(eax, esi); a.jae(done);
        a.lea(edx, __[eax + 0x40]);
        a.mov(__byte_ptr[edi + eax], dl);
        a.inc(eax);
        a.jmp(fill);

        a.Label(ref portOut);
        a.test(__dword_ptr[ebx + FirmwareAbi.RequestFlags], FirmwareAbi.FlagString); a.jnz(outs);
        a.and(edx, 0xFF);
        a.lea(esi, __[ebx + FirmwareAbi.RequestData]);
        a.lea(edi, __[edx + Registers]);
        a.rep.movsb();
        a.jmp(done);
        a.Label(ref outs);
        a.imul(ecx, esi);
        a.mov(esi, __dword_ptr[ebx + FirmwareAbi.RequestBuffer]);
        a.mov(edi, __dword_ptr[LogCount]);
        a.add(__dword_ptr[LogCount], ecx);
        a.add(edi, Log);
        a.rep.movsb();

        a.Label(ref done);
        a.mov(__dword_ptr[ebx + FirmwareAbi.RequestStatus], FirmwareAbi.StatusCompleted);
        Clobber(a);
        a.rsm();
    }

    /// <summary>Every general register and the arithmetic flags and DF set to garbage (ESP stays a stack).</summary>
    public static void Clobber(Assembler a)
    {
        a.push(0x0000_0CD7);                                // CF PF AF ZF SF DF OF
        a.popfd();
        a.mov(eax, 0xDEAD_0000); a.mov(ebx, 0xDEAD_0003); a.mov(ecx, 0xDEAD_0001); a.mov(edx, 0xDEAD_0002);
        a.mov(esi, 0xDEAD_0006); a.mov(edi, 0xDEAD_0007); a.mov(ebp, 0xDEAD_0005);
        a.sub(esp, 0x100);
    }
}
