using Virt.Cpu.State;
using Virt.Monitor.Transport;
using Virt.Shared.Abi;

namespace Virt.Monitor.Vcpu;

/// <summary>
/// The comm page's state areas for the interpreter's CPU. Saves GPRS, SEGS, CRS, DRS and MSRS
/// (the TSC and the MSRs the CPU holds, up to the area's 15 slots). Accepts a
/// GPRS commit only (segments, control registers and the rest could put the VCPU in states the
/// engine must not reach from a device model; refused until a device needs them). A committed
/// GPRS is loaded when the exit completes, before the instruction finishes: an IN then still
/// writes its destination register, and EIP still advances past the instruction. A commit whose EIP
/// is not the one saved (the exiting instruction's) is refused whole.
/// </summary>
public sealed unsafe class CpuStateAccess(Cpu.Cpu cpu) : IVcpuStateAccess
{
    public StateBits Savable => StateBits.Gprs | StateBits.Segs | StateBits.Crs | StateBits.Drs | StateBits.Msrs;
    public StateBits Committable => StateBits.Gprs;

    // EFLAGS bits a commit may not change: bit 1 must be 1; 3, 5, 15 and 22-31 must be 0.
    private const uint MustBeOne = Flags.Reserved1;
    private const uint MustBeZero = (1u << 3) | (1u << 5) | (1u << 15) | 0xFFC0_0000u;

    public void Save(StateBits areas, ref CommPage page)
    {
        CpuState s = cpu.State;
        if ((areas & StateBits.Gprs) != 0)
        {
            ref GprArea g = ref page.Gprs;
            g.Eax = s.Eax; g.Ecx = s.Ecx; g.Edx = s.Edx; g.Ebx = s.Ebx;
            g.Esp = s.Esp; g.Ebp = s.Ebp; g.Esi = s.Esi; g.Edi = s.Edi;
            g.Eip = s.Eip; g.Eflags = s.Eflags;
        }
        if ((areas & StateBits.Segs) != 0)
        {
            ref SegsArea a = ref page.Segs;
            Copy(ref a.Es, s.Es); Copy(ref a.Cs, s.Cs); Copy(ref a.Ss, s.Ss); Copy(ref a.Ds, s.Ds);
            Copy(ref a.Fs, s.Fs); Copy(ref a.Gs, s.Gs); Copy(ref a.Ldtr, s.Ldtr); Copy(ref a.Tr, s.Tr);
            a.Gdtr.Base = s.Gdtr.Base; a.Gdtr.Limit = s.Gdtr.Limit;
            a.Idtr.Base = s.Idtr.Base; a.Idtr.Limit = s.Idtr.Limit;
        }
        if ((areas & StateBits.Crs) != 0)
        {
            page.Crs.Cr0 = s.Cr0; page.Crs.Cr2 = s.Cr2; page.Crs.Cr3 = s.Cr3; page.Crs.Cr4 = s.Cr4;
        }
        if ((areas & StateBits.Drs) != 0)
            for (int i = 0; i < 8; i++) page.Drs.Dr[i] = s.GetDr(i);
        if ((areas & StateBits.Msrs) != 0) SaveMsrs(ref page);
    }

    private void SaveMsrs(ref CommPage page)
    {
        Span<uint> index = stackalloc uint[CommPageLayout.MsrSlots];
        Span<ulong> value = stackalloc ulong[CommPageLayout.MsrSlots];
        int n = cpu.CopyMsrs(index, value);
        for (int i = 0; i < n; i++)
        {
            ref MsrSlot slot = ref CommPageAccess.Msr(ref page, i);
            slot.Index = index[i];
            slot.Value = value[i];
        }
        page.Msrs.Count = (uint)n;
    }

    private static void Copy(ref SegmentArea to, SegmentRegister from)
    {
        to.Base = from.Base;
        to.Limit = from.Limit;
        to.Selector = from.Selector;
        to.Attributes = from.Attributes;
    }

    public string? Commit(StateBits areas, ref CommPage page)
    {
        if ((areas & ~Committable) != 0) return $"cannot commit {areas & ~Committable}";
        ref GprArea g = ref page.Gprs;
        if ((g.Eflags & MustBeOne) == 0 || (g.Eflags & MustBeZero) != 0) return $"EFLAGS 0x{g.Eflags:X8} has reserved bits wrong";
        CpuState s = cpu.State;
        // The exit happens inside an instruction that the monitor finishes (EIP advances past it): a new EIP
        // cannot be honoured there, and silently dropping it would hide a device model's mistake.
        if (g.Eip != s.Eip) return $"EIP 0x{g.Eip:X8} differs from the exiting instruction's 0x{s.Eip:X8}: a device model cannot move EIP";
        s.Eax = g.Eax; s.Ecx = g.Ecx; s.Edx = g.Edx; s.Ebx = g.Ebx;
        s.Esp = g.Esp; s.Ebp = g.Ebp; s.Esi = g.Esi; s.Edi = g.Edi;
        s.Eflags = (s.Eflags & ~Flags.Writable) | (g.Eflags & Flags.Writable);
        return null;
    }
}
