using Virt.Cpu.State;

namespace Virt.Pc.Boot;

/// <summary>
/// Loads a flat binary at a physical address and sets a chosen start state: real mode at CS:IP,
/// or 32-bit protected mode with flat 4 GiB segments (no GDT in guest memory: the descriptor
/// caches are loaded directly, as a boot loader would leave them) at EIP.
/// </summary>
public static class FlatLoader
{
    /// <summary>Flat 32-bit code and data segment caches (selectors 0x08 and 0x10, as Multiboot leaves them).</summary>
    public static readonly SegmentRegister FlatCode = new() { Selector = 0x08, Base = 0, Limit = 0xFFFF_FFFF, Attributes = 0xC09B };
    public static readonly SegmentRegister FlatData = new() { Selector = 0x10, Base = 0, Limit = 0xFFFF_FFFF, Attributes = 0xC093 };

    public static void LoadReal(Cpu.Cpu cpu, ReadOnlySpan<byte> image, ushort cs, ushort ip, uint loadAddress)
    {
        cpu.Memory.Load(loadAddress, image);
        EnterRealMode(cpu, cs, ip);
    }

    public static void Load32(Cpu.Cpu cpu, ReadOnlySpan<byte> image, uint loadAddress, uint entry)
    {
        cpu.Memory.Load(loadAddress, image);
        EnterFlat32(cpu, entry);
    }

    public static void EnterRealMode(Cpu.Cpu cpu, ushort cs, ushort ip)
    {
        var s = cpu.State;
        s.Cr0 = ControlBits.CR0_ET;
        for (int i = 0; i < 6; i++) s.SetSegment(i, SegmentRegister.RealMode(0));
        s.Cs = SegmentRegister.RealMode(cs, 0x9B);
        s.Eip = ip;
        s.Eflags = Flags.Reserved1;
    }

    public static void EnterFlat32(Cpu.Cpu cpu, uint entry)
    {
        var s = cpu.State;
        s.Cr0 = ControlBits.CR0_PE | ControlBits.CR0_ET;
        s.Cpl = 0;
        s.Cs = FlatCode;
        foreach (int i in (ReadOnlySpan<int>)[SegmentIndex.DS, SegmentIndex.ES, SegmentIndex.SS, SegmentIndex.FS, SegmentIndex.GS]) s.SetSegment(i, FlatData);
        s.Gdtr = new DescriptorTableRegister { Base = 0, Limit = 0 };
        s.Idtr = new DescriptorTableRegister { Base = 0, Limit = 0 };
        s.Eip = entry;
        s.Eflags = Flags.Reserved1;
    }
}
