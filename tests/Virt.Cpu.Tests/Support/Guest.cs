using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.Memory;
using Virt.Cpu.State;

namespace Virt.Cpu.Tests.Support;

/// <summary>
/// Runs a snippet of guest code to its closing HLT, with every exception vector routed to its own
/// one-byte HLT stub so a test can see which exception (if any) the snippet raised.
/// Flat 32-bit: GDT at 0x800 (code 0x08, data 0x10), IDT at 0x1000, stubs at 0x2000 + vector,
/// code at 0x100000, stack at 0x90000. Real mode: the IVT points vector v at 0000:0600+v, code at
/// 1000:0100 (physical 0x10100), stack 0000:FFFE... in segment 0x2000.
/// </summary>
public static class Guest
{
    public const uint CodeBase = 0x10_0000;
    public const uint Data = 0x20_0000;      // scratch data for flat tests
    private const uint Gdt = 0x800, Idt = 0x1000, Stubs32 = 0x2000, Stubs16 = 0x600;

    /// <param name="engine">One of <see cref="Engines"/>; null keeps the CPU's default (the environment's).</param>
    public static TestMachine Flat(Action<Assembler> code, Action<CpuState>? setup = null, Action<PhysicalMemory>? memory = null, string? engine = null)
    {
        var m = new TestMachine();
        if (engine is not null) Engines.Use(m, engine);
        m.Load32(CodeBase, a => { code(a); a.hlt(); });
        // GDT: null, flat code, flat data.
        m.Memory.Load(Gdt, [0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0x9B, 0xCF, 0, 0xFF, 0xFF, 0, 0, 0, 0x93, 0xCF, 0]);
        for (int v = 0; v < 32; v++)
        {
            uint h = Stubs32 + (uint)v;
            byte[] gate = [(byte)h, (byte)(h >> 8), 0x08, 0, 0, 0x8E, (byte)(h >> 16), (byte)(h >> 24)];
            m.Memory.Load(Idt + (uint)v * 8, gate);
            m.Memory.Load(h, [0xF4]);
        }
        var s = m.Cpu.State;
        s.Gdtr = new DescriptorTableRegister { Base = Gdt, Limit = 23 };
        s.Idtr = new DescriptorTableRegister { Base = Idt, Limit = 32 * 8 - 1 };
        setup?.Invoke(s);
        memory?.Invoke(m.Memory);
        Assert.Equal(StopReason.Halted, m.Run(1_000_000));
        return m;
    }

    public static TestMachine Real(Action<Assembler> code, Action<CpuState>? setup = null, Action<PhysicalMemory>? memory = null, string? engine = null)
    {
        var m = new TestMachine();
        if (engine is not null) Engines.Use(m, engine);
        m.LoadReal(0x1000, 0x100, a => { code(a); a.hlt(); });
        for (int v = 0; v < 32; v++)
        {
            m.Memory.Load((uint)v * 4, [(byte)(Stubs16 + v), (byte)((Stubs16 + v) >> 8), 0, 0]);
            m.Memory.Load(Stubs16 + (uint)v, [0xF4]);
        }
        var s = m.Cpu.State;
        s.Ss = SegmentRegister.RealMode(0x2000);
        s.Esp = 0xFFFE;
        s.Ds = SegmentRegister.RealMode(0x3000);
        s.Es = SegmentRegister.RealMode(0x4000);
        setup?.Invoke(s);
        memory?.Invoke(m.Memory);
        Assert.Equal(StopReason.Halted, m.Run(1_000_000));
        return m;
    }

    /// <summary>The exception vector whose stub the guest halted in, or null when it ran to the end.</summary>
    public static int? Exception(TestMachine m)
    {
        var s = m.Cpu.State;
        uint eip = s.Eip;
        if (s.Cs.Base == 0 && eip > Stubs32 && eip <= Stubs32 + 32 && m.Cpu.ProtectedMode) return (int)(eip - Stubs32 - 1);
        if (!m.Cpu.ProtectedMode && s.Cs.Selector == 0 && eip > Stubs16 && eip <= Stubs16 + 32) return (int)(eip - Stubs16 - 1);
        return null;
    }

    /// <summary>The arithmetic flags only (CF PF AF ZF SF OF).</summary>
    public static uint Arith(TestMachine m) => m.Cpu.State.Eflags & Flags.Arith;

    public static uint Flag(TestMachine m, uint bit) => m.Cpu.State.Eflags & bit;
}
