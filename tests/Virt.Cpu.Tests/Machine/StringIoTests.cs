using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.Exits;
using Virt.Cpu.Memory;
using Virt.Pc.Boot;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests.Machine;

/// <summary>REP INS/OUTS leave through the exit handler's string forms, a page-bounded chunk at a time.</summary>
public class StringIoTests
{
    private sealed class RecordingPorts : IExitHandler
    {
        public List<int> OutChunks { get; } = new();
        public List<byte> OutData { get; } = new();
        public int InChunks;
        private byte _next;

        public uint PortIn(ushort port, int size) => throw new InvalidOperationException("expected the string form");
        public void PortOut(ushort port, int size, uint value) => throw new InvalidOperationException("expected the string form");

        public void PortOutString(ushort port, int size, ReadOnlySpan<byte> data)
        {
            OutChunks.Add(data.Length / size);
            OutData.AddRange(data.ToArray());
        }

        public void PortInString(ushort port, int size, Span<byte> data)
        {
            InChunks++;
            for (int i = 0; i < data.Length; i++) data[i] = _next++;
        }

        public ulong MmioRead(ulong address, int size) => ulong.MaxValue;
        public void MmioWrite(ulong address, int size, ulong value) { }
    }

    private static (Cpu Cpu, PhysicalMemory Mem, RecordingPorts Ports, IDisposable Ram) Machine(Action<Assembler> code)
    {
        var ram = new GuestRam(4 << 20);
        var mem = new PhysicalMemory(ram);
        var ports = new RecordingPorts();
        var cpu = new Cpu(mem, ports);
        var a = new Assembler(32);
        code(a);
        FlatLoader.Load32(cpu, Support.TestMachine.Assemble(a, 0x10_0000), 0x10_0000, 0x10_0000);
        return (cpu, mem, ports, ram);
    }

    [Fact]
    public void RepOutsbSendsPageBoundedChunksInOrder()
    {
        var (cpu, mem, ports, ram) = Machine(a =>
        {
            a.cld();
            a.mov(esi, 0x20_0800);          // starts mid-page: chunks of 2048, 4096, 3856
            a.mov(ecx, 10_000);
            a.mov(dx, 0x3F8);
            a.rep.outsb();
            a.hlt();
        });
        using (ram)
        {
            var src = new byte[10_000];
            new Random(7).NextBytes(src);
            mem.Load(0x20_0800, src);
            Assert.Equal(StopReason.Halted, cpu.Run(1_000_000));
            Assert.Equal([2048, 4096, 3856], ports.OutChunks);
            Assert.Equal(src, ports.OutData.ToArray());
            Assert.Equal(0u, cpu.State.Ecx);
            Assert.Equal(0x20_0800u + 10_000, cpu.State.Esi);
        }
    }

    [Fact]
    public void RepInswFillsMemoryThroughTheStringForm()
    {
        var (cpu, mem, ports, ram) = Machine(a =>
        {
            a.cld();
            a.mov(edi, 0x30_0000);
            a.mov(ecx, 4096);               // 8 KiB: two pages, two chunks
            a.mov(dx, 0x1F0);
            a.rep.insw();
            a.hlt();
        });
        using (ram)
        {
            Assert.Equal(StopReason.Halted, cpu.Run(1_000_000));
            Assert.Equal(2, ports.InChunks);
            var got = new byte[8192];
            mem.Read(0x30_0000, got);
            for (int i = 0; i < got.Length; i++) Assert.Equal((byte)i, got[i]);
            Assert.Equal(0x30_0000u + 8192, cpu.State.Edi);
        }
    }
}
