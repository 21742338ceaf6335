using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.Exits;
using Virt.Cpu.Memory;
using Virt.Monitor.Vcpu;
using Virt.Pc.Boot;
using Virt.Shared.Abi;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Integration.Tests.Io;

/// <summary>The monitor's side of the state areas: what a real CPU's state looks like in the comm page.</summary>
public sealed class CpuStateAccessTests
{
    private sealed class NoDevices : IExitHandler
    {
        public uint PortIn(ushort port, int size) => 0xFFFF_FFFFu;
        public void PortOut(ushort port, int size, uint value) { }
        public ulong MmioRead(ulong address, int size) => ulong.MaxValue;
        public void MmioWrite(ulong address, int size, ulong value) { }
    }

    [Fact]
    public void Msrs_the_guest_wrote_and_the_tsc_are_in_the_msrs_area()
    {
        using var ram = new GuestRam(1 << 20);
        using var memory = new PhysicalMemory(ram);
        var cpu = new Cpu.Cpu(memory, new NoDevices());
        var a = new Assembler(32);
        a.mov(ecx, 0x174);      // IA32_SYSENTER_CS
        a.mov(eax, 0x60);
        a.xor(edx, edx);
        a.wrmsr();
        a.mov(ecx, 0x176);      // IA32_SYSENTER_EIP
        a.mov(eax, 0xC0DE_0000);
        a.wrmsr();
        a.hlt();
        var code = new MemoryStream();
        a.Assemble(new StreamCodeWriter(code), 0x1000);
        FlatLoader.Load32(cpu, code.ToArray(), 0x1000, 0x1000);
        Assert.Equal(StopReason.Halted, cpu.Run(1000));

        var access = new CpuStateAccess(cpu);
        Assert.True((access.Savable & StateBits.Msrs) != 0);
        var page = new CommPage();
        access.Save(StateBits.Msrs, ref page);

        var msrs = new Dictionary<uint, ulong>();
        for (int i = 0; i < page.Msrs.Count; i++)
        {
            MsrSlot slot = CommPageAccess.Msr(ref page, i);
            msrs[slot.Index] = slot.Value;
        }
        Assert.InRange((int)page.Msrs.Count, 4, CommPageLayout.MsrSlots);
        Assert.Equal(0x60UL, msrs[0x174]);
        Assert.Equal(0xC0DE_0000UL, msrs[0x176]);
        Assert.True(msrs.ContainsKey(0x10), "the TSC is saved");
        Assert.Equal(0xFEE0_0900UL, msrs[0x1B]);
    }
}
