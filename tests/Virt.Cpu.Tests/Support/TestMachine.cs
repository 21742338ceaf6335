using System.Text;
using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.Exits;
using Virt.Cpu.Memory;
using Virt.Pc.Boot;

namespace Virt.Cpu.Tests.Support;

/// <summary>
/// A real CPU over real (anonymous) guest RAM with a recording exit handler: port 0xE9 collects
/// text, other ports read from a table. Guest code comes from Iced's Assembler.
/// </summary>
public sealed class TestMachine : IDisposable, IExitHandler
{
    public TestMachine(long ramBytes = 16 << 20)
    {
        Ram = new GuestRam(ramBytes);
        Memory = new PhysicalMemory(Ram);
        // Compiled at the block's threshold on this thread: runs reproducible op for op (a test
        // that is about background compiling turns it back on).
        Cpu = new Cpu(Memory, this);
    }

    public GuestRam Ram { get; }
    public PhysicalMemory Memory { get; }
    public Cpu Cpu { get; }
    public StringBuilder Console { get; } = new();
    public List<(ushort Port, int Size, uint Value)> Outs { get; } = new();
    public Dictionary<ushort, uint> InValues { get; } = new();

    /// <summary>Assembles 32-bit code at address and starts the CPU there in flat protected mode.</summary>
    public void Load32(uint address, Action<Assembler> code)
    {
        var a = new Assembler(32);
        code(a);
        FlatLoader.Load32(Cpu, Assemble(a, address), address, address);
        Cpu.State.Esp = 0x0009_0000;
    }

    /// <summary>Assembles 16-bit code at CS:IP and starts the CPU there in real mode.</summary>
    public void LoadReal(ushort cs, ushort ip, Action<Assembler> code)
    {
        var a = new Assembler(16);
        code(a);
        FlatLoader.LoadReal(Cpu, Assemble(a, ip), cs, ip, ((uint)cs << 4) + ip);
        Cpu.State.Esp = 0xFFFE;
    }

    public static byte[] Assemble(Assembler a, ulong ip)
    {
        var ms = new MemoryStream();
        a.Assemble(new StreamCodeWriter(ms), ip);
        return ms.ToArray();
    }

    /// <summary>Runs until HLT (or the budget); fails the test on shutdown.</summary>
    public StopReason Run(long budget = 10_000_000)
    {
        var r = Cpu.Run(budget);
        if (r == StopReason.Shutdown) throw new Xunit.Sdk.XunitException("guest shut down: " + Cpu.ShutdownReason);
        return r;
    }

    public uint PortIn(ushort port, int size) => InValues.TryGetValue(port, out var v) ? v : 0xFFFF_FFFF;

    public void PortOut(ushort port, int size, uint value)
    {
        if (port == 0xE9) Console.Append((char)(byte)value);
        else Outs.Add((port, size, value));
    }

    public ulong MmioRead(ulong address, int size) => ulong.MaxValue;

    public void MmioWrite(ulong address, int size, ulong value) { }

    public uint Read32(uint phys) => Memory.Read32(phys);

    public void Dispose()
    {
        Memory.Dispose();
        Ram.Dispose();
    }
}
