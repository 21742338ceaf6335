namespace Virt.Cpu.Paravirt;

/// <summary>
/// The bytes of the call table: <see cref="VirtAbi.Entries"/> stubs of <see cref="VirtAbi.EntrySize"/>
/// bytes, as VMI's ROM and Xen's hypercall page lay theirs out. Arguments come in EAX, EDX, ECX
/// (gcc's regparm(3), Linux i386's calling convention); a stub that needs the monitor moves EAX to
/// EBX (saved), puts its number in EAX and executes VMCALL, which translated code runs as a direct
/// handler call. The rest of each stub is INT3.
/// </summary>
public static class CallTableStubs
{
    private const byte Cli = 0xFA, Sti = 0xFB, Hlt = 0xF4, Ret = 0xC3, PushFd = 0x9C, PopFd = 0x9D,
        PushEax = 0x50, PopEax = 0x58, PushEbx = 0x53, PopEbx = 0x5B, MovEaxImm = 0xB8, Int3 = 0xCC;
    private static readonly byte[] MovEbxEax = [0x89, 0xC3];
    private static readonly byte[] Vmcall = [0x0F, 0x01, 0xC1];

    /// <summary>The stub of <paramref name="call"/> (without its INT3 padding).</summary>
    public static byte[] Stub(VirtCall call) => call switch
    {
        VirtCall.Cli => [Cli, Ret],
        VirtCall.Sti => [Sti, Ret],
        VirtCall.SaveFl => [PushFd, PopEax, Ret],
        VirtCall.RestoreFl => [PushEax, PopFd, Ret],
        // STI's shadow covers the HLT: an interrupt that is already pending wakes the halt, not the line before it.
        VirtCall.IrqEnableAndHalt => [Sti, Hlt, Ret],
        _ => MonitorStub(VirtAbi.CallBase + (uint)call),
    };

    private static byte[] MonitorStub(uint number) =>
        [PushEbx, .. MovEbxEax, MovEaxImm, (byte)number, (byte)(number >> 8), (byte)(number >> 16), (byte)(number >> 24), .. Vmcall, PopEbx, Ret];

    /// <summary>The whole table: every entry in number order, padded with INT3.</summary>
    public static byte[] Table()
    {
        var page = new byte[VirtAbi.Entries * VirtAbi.EntrySize];
        Array.Fill(page, Int3);
        foreach (VirtCall c in Enum.GetValues<VirtCall>()) Stub(c).CopyTo(page, (int)c * VirtAbi.EntrySize);
        return page;
    }

    /// <summary>Whether the entry is plain guest code (never enters the monitor).</summary>
    public static bool IsHot(VirtCall call) => call <= VirtCall.IrqEnableAndHalt;
}
