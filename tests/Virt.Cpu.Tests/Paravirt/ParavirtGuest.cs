using Iced.Intel;
using Virt.Cpu.Paravirt;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;
using G = Virt.Cpu.Tests.Support.ProtectedModeGuest;

namespace Virt.Cpu.Tests.Paravirt;

/// <summary>
/// A ring-0 protected-mode guest for the paravirtual interfaces: a #GP and a #UD handler that
/// count the fault in <see cref="Faults"/> (GP) / <see cref="Faults"/>+4 (UD), step over the faulting
/// RDMSR/WRMSR (2 bytes) or VMCALL (3 bytes) and leave EAX = 0xFA17, so a test sees both that the
/// instruction faulted and that the guest went on.
/// </summary>
public static class ParavirtGuest
{
    public const uint Faults = 0x5000, Out = 0x6000, ClockPage = 0x7000, WallClock = 0x7100;
    public const uint FaultMarker = 0xFA17;

    public static TestMachine Machine(string engine, ParavirtFeatures features, Action<Assembler> body)
    {
        var m = new TestMachine();
        Engines.Use(m, engine);
        m.Cpu.Paravirt = features;
        var g = new G(m);
        g.WriteIdt(13, Descriptors.Gate(G.KCode, 0x21000, 0xE));
        g.WriteIdt(6, Descriptors.Gate(G.KCode, 0x22000, 0xE));
        g.Handler(0x21000, a =>
        {
            a.add(__dword_ptr[Faults], 1);
            a.add(esp, 4);                 // the error code
            a.add(__dword_ptr[esp], 2);    // over RDMSR / WRMSR
            a.mov(eax, FaultMarker);
            a.iretd();
        });
        g.Handler(0x22000, a =>
        {
            a.add(__dword_ptr[Faults + 4], 1);
            a.add(__dword_ptr[esp], 3);    // over VMCALL
            a.mov(eax, FaultMarker);
            a.iretd();
        });
        g.Load(body);
        return m;
    }

    /// <summary>CPUID leaf → EAX, EBX, ECX, EDX at <paramref name="at"/>.</summary>
    public static void Cpuid(Assembler a, uint leaf, uint at)
    {
        a.mov(eax, leaf);
        a.xor(ecx, ecx);
        a.cpuid();
        a.mov(__dword_ptr[at], eax);
        a.mov(__dword_ptr[at + 4], ebx);
        a.mov(__dword_ptr[at + 8], ecx);
        a.mov(__dword_ptr[at + 12], edx);
    }

    public static void Wrmsr(Assembler a, uint msr, uint low, uint high = 0)
    {
        a.mov(ecx, msr);
        a.mov(eax, low);
        a.mov(edx, high);
        a.wrmsr();
    }

    /// <summary>RDMSR → EDX:EAX at <paramref name="at"/>.</summary>
    public static void Rdmsr(Assembler a, uint msr, uint at)
    {
        a.mov(ecx, msr);
        a.xor(edx, edx);
        a.rdmsr();
        a.mov(__dword_ptr[at], eax);
        a.mov(__dword_ptr[at + 4], edx);
    }

    /// <summary>The 12-byte signature CPUID left in EBX, ECX, EDX at <paramref name="at"/>.</summary>
    public static string Signature(TestMachine m, uint at)
    {
        var b = new byte[12];
        m.Memory.Read(at + 4, b);
        return System.Text.Encoding.ASCII.GetString(b);
    }
}
