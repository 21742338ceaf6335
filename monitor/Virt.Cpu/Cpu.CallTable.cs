using System.Buffers.Binary;
using Virt.Cpu.Execution;
using Virt.Cpu.Memory;
using Virt.Cpu.Mmu;
using Virt.Cpu.Paravirt;
using Virt.Cpu.State;

namespace Virt.Cpu;

// This monitor's call table (docs/paravirt.md): placed by the guest through VirtAbi.MsrCallTable,
// filled by the monitor with CallTableStubs, and the VMCALL handlers of the entries that need the
// monitor. Every guest mistake (a bad pointer, length, size or number) is an error in EAX, never a
// fault or a host exception.
public sealed unsafe partial class Cpu
{
    private ulong _msrCallTable;
    private bool _inlineHotCalls; // the table is placed and InlineHotCalls is on: Op.Call32 looks at its target

    /// <summary>Calls to hot entries run inline at their call site (by the interpreter or by native code).</summary>
    public long InlinedHotCalls { get; private set; }

    /// <summary>Of <see cref="InlinedHotCalls"/>, the ones native code ran (NativeBlockCompiler's HotCall).</summary>
    public long NativeInlinedHotCalls { get; private set; }

    /// <summary>The port console_write sends its bytes to (COM1's data register by default).</summary>
    public ushort ParavirtConsolePort { get; set; } = 0x3F8;

    /// <summary>Call-table entries that reached the monitor, by <see cref="VirtCall"/> number.</summary>
    public long[] CallTableCalls { get; } = new long[VirtAbi.Entries];

    /// <summary>The run's paravirtual counters.</summary>
    public ParavirtStatistics ParavirtStats => new(Hypercalls, PvClockUpdates, InlinedHotCalls,
        Enum.GetValues<VirtCall>().Where(c => !CallTableStubs.IsHot(c)).ToDictionary(c => c.ToString(), c => CallTableCalls[(int)c]),
        NativeInlinedHotCalls);

    private void WriteCallTableMsr(ulong value)
    {
        // Bits 11:1 are reserved and the table is a guest-physical page of RAM below 4 GiB.
        if ((value & 0xFFE) != 0 || value >> 32 != 0) throw Fault(Vectors.GP, 0);
        uint page = (uint)value & ~0xFFFu;
        if ((value & 1) != 0)
        {
            if (_mem.KindOf(page) != PageKind.Ram) throw Fault(Vectors.GP, 0);
            _mem.Load(page, CallTableStubs.Table()); // Load drops code decoded from the old contents
        }
        _msrCallTable = value;
        _inlineHotCalls = (value & 1) != 0 && (Paravirt & (ParavirtFeatures.CallTable | ParavirtFeatures.InlineHotCalls)) == (ParavirtFeatures.CallTable | ParavirtFeatures.InlineHotCalls);
    }

    /// <summary>
    /// A CALL rel32 to <paramref name="target"/>: when it is a hot entry of the placed table, still
    /// holding the stub the monitor wrote, runs the entry's body here instead (VMI's inline form: the
    /// return address is never pushed, as the stub's RET would have popped it). Only at CPL 0 in
    /// protected mode, where none of the bodies can fault, so no fault's address could differ from
    /// the called form's. False: the caller makes the call.
    /// </summary>
    private bool InlineHotCall(uint target)
    {
        if (Cpl != 0 || !ProtectedMode || V86Mode) return false;
        uint la = Seg[SegmentIndex.CS].Base + target;
        ref TlbEntry e = ref _tlbR[(la >> 12) & TlbMask];
        if (e.Tag != la >> 12 || e.PhysPage != (uint)(_msrCallTable >> 12) || (la & (VirtAbi.EntrySize - 1)) != 0) return false;
        uint entry = (la & 0xFFF) / VirtAbi.EntrySize;
        if (entry > (uint)VirtCall.IrqEnableAndHalt) return false;
        // The guest may have written over the stub: then its own code runs, called.
        byte[] stub = s_hotStubs[entry];
        byte* code = (byte*)e.Host + (la & 0xFFF);
        for (int i = 0; i < stub.Length; i++)
            if (code[i] != stub[i]) return false;
        InlinedHotCalls++;
        switch ((VirtCall)entry)
        {
            case VirtCall.Cli: ExecCli(); break;
            case VirtCall.Sti: ExecSti(); break;
            case VirtCall.SaveFl: R[0] = GetEflags() & ~(Flags.VM | Flags.RF); break;
            case VirtCall.RestoreFl: UpdateFlagsPrivileged(R[0] & ~Flags.RF, 4, Cpl); _exitBlock = true; break;
            case VirtCall.IrqEnableAndHalt:
                // STI then HLT in its shadow: an interrupt already pending wakes the halt, delivered after the call site.
                _flags |= Flags.IF;
                _halted = true;
                _exitBlock = true;
                break;
        }
        return true;
    }

    /// <summary>
    /// When native code is compiled for b at <paramref name="linear"/>: the hot entry its last op, a
    /// CALL rel32, reaches now (the target 32-byte aligned in the placed table's physical page and
    /// still holding the monitor's stub), so the block gets the inline form; else -1. Only a choice
    /// of what to emit: the inline form checks all of it again each time it runs
    /// (NativeBlockCompiler's HotCall), so the table moving or the stub being overwritten later
    /// needs no block to be dropped.
    /// </summary>
    private int NativeHotEntry(Block b, uint linear)
    {
        if (!_inlineHotCalls || b.Instructions.Length == 0) return -1;
        ref readonly Iced.Intel.Instruction last = ref b.Instructions[^1];
        if (last.Code != Iced.Intel.Code.Call_rel32_32) return -1;
        uint la = linear + last.NearBranch32; // decoded at IP 0: an offset from the block's start
        uint entry = (la & 0xFFF) / VirtAbi.EntrySize;
        if ((la & (VirtAbi.EntrySize - 1)) != 0 || entry > (uint)VirtCall.IrqEnableAndHalt) return -1;
        if (entry == (uint)VirtCall.SaveFl && !Translation.Native.HostFlags.PushfInlinable) return -1;
        if (ProbePhysical(la) is not { } phys || phys >> 12 != (uint)(_msrCallTable >> 12)) return -1;
        byte[] stub = s_hotStubs[entry];
        Span<byte> code = stackalloc byte[stub.Length];
        _mem.Read(phys, code);
        return code.SequenceEqual(stub) ? (int)entry : -1;
    }

    private static readonly byte[][] s_hotStubs =
        [.. Enum.GetValues<VirtCall>().Where(CallTableStubs.IsHot).OrderBy(c => c).Select(CallTableStubs.Stub)];

    /// <summary>A VMCALL with a call-table number in EAX (CPL 0). Arguments: EBX (the stub's EAX), EDX, ECX.</summary>
    private void ExecVirtCall(uint nr)
    {
        uint entry = nr - VirtAbi.CallBase;
        if (entry >= VirtAbi.Entries || CallTableStubs.IsHot((VirtCall)entry)) { R[0] = VirtAbi.ErrorNoSys; return; }
        CallTableCalls[entry]++;
        switch ((VirtCall)entry)
        {
            case VirtCall.Halt:
                // HLT with IF clear would wait for an NMI only: a guest asking to wait for an interrupt gets an error instead.
                if ((_flags & Flags.IF) == 0) { R[0] = VirtAbi.ErrorInvalid; return; }
                R[0] = VirtAbi.Ok;
                _halted = true;
                _exitBlock = true;
                break;
            case VirtCall.ConsoleWrite: R[0] = ConsoleWrite(R[3], R[2]); break;
            case VirtCall.PortWriteBatch: R[0] = PortWriteBatch(R[3], R[2]); break;
            case VirtCall.ReadTime:
                {
                    ulong ns = PvNanoseconds(ReadTsc());
                    R[0] = (uint)ns; R[2] = (uint)(ns >> 32);
                    break;
                }
            case VirtCall.FirmwareOutput:
            case VirtCall.FirmwareIrq:
                R[0] = FirmwareCall((VirtCall)entry);
                break;
            case VirtCall.FlushTlb:
                if (R[3] == VirtAbi.FlushAll) FlushTlbCore(keepGlobal: false);
                else InvalidatePage(R[3]);
                R[0] = VirtAbi.Ok;
                _exitBlock = true;
                break;
        }
    }

    private uint ConsoleWrite(uint buffer, uint length)
    {
        if (length > VirtAbi.MaxConsoleBytes) return VirtAbi.ErrorInvalid;
        Span<byte> data = stackalloc byte[(int)length];
        if (!TryReadGuestLinear(buffer, data)) return VirtAbi.ErrorFault;
        // One string exit per data page of the comm page: the device model takes the whole buffer at once.
        if (length > 0) _exits.PortOutString(ParavirtConsolePort, 1, data);
        return length;
    }

    private uint PortWriteBatch(uint list, uint count)
    {
        if (count > VirtAbi.MaxPortWrites) return VirtAbi.ErrorInvalid;
        Span<byte> raw = stackalloc byte[(int)count * VirtAbi.PortWriteSize];
        if (!TryReadGuestLinear(list, raw)) return VirtAbi.ErrorFault;
        // All checked before any is written, so a bad batch has no effect at all.
        for (int i = 0; i < raw.Length; i += VirtAbi.PortWriteSize)
            if (raw[i + 2] is not (1 or 2 or 4) || raw[i + 3] != 0) return VirtAbi.ErrorInvalid;
        for (int i = 0; i < raw.Length; i += VirtAbi.PortWriteSize)
            _exits.PortOut(BinaryPrimitives.ReadUInt16LittleEndian(raw[i..]), raw[i + 2], BinaryPrimitives.ReadUInt32LittleEndian(raw[(i + 4)..]));
        return count;
    }

    /// <summary>
    /// Copies guest-linear memory as a supervisor read would see it, without any side effect (no
    /// accessed bits, no TLB fill, no #PF): false when a page is not present or not RAM/ROM.
    /// </summary>
    private bool TryReadGuestLinear(uint linear, Span<byte> into)
    {
        if ((ulong)linear + (ulong)into.Length > 0x1_0000_0000UL) return false;
        for (int done = 0; done < into.Length;)
        {
            uint la = linear + (uint)done;
            if (ProbePhysical(la) is not { } phys || _mem.KindOf(phys) == PageKind.Mmio) return false;
            int n = Math.Min(into.Length - done, (int)(PhysicalMemory.PageSize - (la & (PhysicalMemory.PageSize - 1))));
            _mem.Read(phys, into.Slice(done, n));
            done += n;
        }
        return true;
    }

    /// <summary>The page walk of Translate (Cpu.Mmu.cs) for a supervisor read, with no effects; null when not present.</summary>
    private uint? ProbePhysical(uint linear)
    {
        if (!PagingEnabled) return linear & _mem.A20Mask;
        uint pde = _mem.Read32(((Cr3 & 0xFFFF_F000) | ((linear >> 20) & 0xFFC)) & _mem.A20Mask);
        if ((pde & 1) == 0) return null;
        if ((pde & 0x80) != 0 && (Cr4 & ControlBits.CR4_PSE) != 0) return ((pde & 0xFFC0_0000) | (linear & 0x003F_FFFF)) & _mem.A20Mask;
        uint pte = _mem.Read32(((pde & 0xFFFF_F000) | ((linear >> 10) & 0xFFC)) & _mem.A20Mask);
        if ((pte & 1) == 0) return null;
        return ((pte & 0xFFFF_F000) | (linear & 0xFFF)) & _mem.A20Mask;
    }
}
