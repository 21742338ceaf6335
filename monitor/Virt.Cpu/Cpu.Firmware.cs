using System.Buffers.Binary;
using Virt.Cpu.Execution;
using Virt.Cpu.Firmware;
using Virt.Cpu.Memory;
using Virt.Cpu.Paravirt;
using Virt.Cpu.State;

namespace Virt.Cpu;

// I/O reflected to guest firmware (docs/firmware-reflection.md), the Xen "self I/O emulator"
// proposal's shortest path: an access to a range the firmware claimed saves the VCPU's state, as SMM
// does on an SMI, and enters the firmware's handler in flat 32-bit protected mode with paging off
// (the proposal's "physical mode") and interrupts off. The handler emulates the access, writes the
// completion into the request block and executes RSM, which puts the state back and completes the
// access where the instruction wants it. The monitor keeps its own copy of the saved state, so
// nothing the handler writes into the save area can change the guest's privilege or mode.
public sealed unsafe partial class Cpu
{
    private uint _fwBase, _fwEnd;          // the firmware's region [base, end); 0, 0: none loaded
    private bool _fwActive;                // ranges are reflected (a failure turns it off for the run)
    private bool _inFirmware;              // the handler runs
    private readonly List<(int Start, int End)> _fwPorts = new();
    private readonly List<(uint Start, uint End)> _fwMmio = new();
    private readonly FirmwareMmioExit _fwMmioExit = new();
    private long _fwEntryRetired = -1;     // -1: entered inside a block, taken when the block ends (FirmwareAfterBlocks)
    private long _fwDeadline = long.MaxValue;
    private bool _fwExitPending;           // RSM or a failure inside a block: its instructions are counted when the block ends
    private FirmwareFailure? _fwFailure;
    private long _fwReflections, _fwHandlerInstructions, _fwMonitorCalls;

    // The guest's state at the access (the monitor's copy; the save area gets the same values).
    private readonly uint[] _fwR = new uint[8];
    private readonly SegmentRegister[] _fwSeg = new SegmentRegister[6];
    private uint _fwEip, _fwEflags, _fwCr0, _fwCr2, _fwCr3, _fwCr4, _fwDr6, _fwDr7, _fwLength;
    private int _fwCpl;
    private SegmentRegister _fwLdtr, _fwTr;
    private DescriptorTableRegister _fwGdtr, _fwIdtr;
    private bool _fwShadow, _fwMovSsShadow;

    // The access being reflected.
    private uint _fwKind, _fwTarget, _fwFlags, _fwCount, _fwAmask;
    private int _fwSize, _fwSegment;

    // MMIO completions: the instruction runs again and its accesses are answered from here (below).
    private readonly List<(uint Address, int Size, bool Write, ulong Value, bool Used)> _fwMmioLog = new();
    private bool _fwReplayNext, _fwReplaying;
    private const int MmioLogLength = 8;

    /// <summary>Instructions a handler may run for one access before it is abandoned as looping.</summary>
    public long FirmwareInstructionBudget { get; set; } = FirmwareAbi.DefaultInstructionBudget;

    /// <summary>Raised once, when a handler fails and reflection is turned off: the failure and a one-line description.</summary>
    public Action<FirmwareFailure, string>? FirmwareFailed { get; set; }

    /// <summary>Where the firmware's console output goes (call-table entry firmware_output).</summary>
    public FirmwareOutput? FirmwareConsole { get; set; }

    /// <summary>An ISA IRQ line the firmware drives (call-table entry firmware_irq): line, level.</summary>
    public Action<int, bool>? FirmwareIrq { get; set; }

    /// <summary>True while a firmware handler runs.</summary>
    public bool InFirmware => _inFirmware;

    /// <summary>The firmware's region, or null when none is loaded.</summary>
    public (uint Base, uint Size)? FirmwareRegion => _fwEnd == 0 ? null : (_fwBase, _fwEnd - _fwBase);

    public FirmwareStatistics FirmwareStats => new(_fwReflections, _fwHandlerInstructions, _fwMonitorCalls, _fwFailure);

    /// <summary>
    /// Loads a firmware image into guest RAM at <paramref name="regionBase"/> (page aligned, <paramref name="regionSize"/>
    /// bytes, at least <see cref="FirmwareAbi.MinimumSize"/>), with the call table and the fixed pages of
    /// <see cref="FirmwareAbi"/>, and makes the region read-only to the guest: a guest write outside the
    /// handler is dropped, as a write to ROM. Ranges are claimed afterwards.
    /// </summary>
    /// <exception cref="ArgumentException">The region is not page-aligned RAM, or the image does not fit.</exception>
    public void LoadFirmware(uint regionBase, uint regionSize, ReadOnlySpan<byte> image)
    {
        if (_fwEnd != 0) throw new InvalidOperationException("a firmware is already loaded");
        if ((regionBase & 0xFFF) != 0 || (regionSize & 0xFFF) != 0 || regionSize < FirmwareAbi.MinimumSize)
            throw new ArgumentException($"the firmware region must be page aligned and at least {FirmwareAbi.MinimumSize} bytes");
        if ((ulong)regionBase + regionSize > 0x1_0000_0000UL) throw new ArgumentException("the firmware region must lie below 4 GiB");
        for (uint p = regionBase; p < regionBase + regionSize; p += PhysicalMemory.PageSize)
            if (_mem.KindOf(p) != PageKind.Ram) throw new ArgumentException($"the firmware region is not RAM at 0x{p:X8}");
        if (image.Length > regionSize - FirmwareAbi.Image - PhysicalMemory.PageSize)
            throw new ArgumentException($"the firmware image ({image.Length} bytes) does not fit its region with a page of stack");
        _mem.Load(regionBase, new byte[regionSize]);
        _mem.Load(regionBase + FirmwareAbi.CallTable, CallTableStubs.Table());
        _mem.Load(regionBase + FirmwareAbi.Image, image);
        _mem.ProtectRam(regionBase, regionSize);
        _fwBase = regionBase;
        _fwEnd = regionBase + regionSize;
        _fwActive = true;
    }

    /// <summary>The firmware handles ports [start, start + length).</summary>
    public void ClaimPortsForFirmware(ushort start, int length)
    {
        if (_fwEnd == 0) throw new InvalidOperationException("no firmware is loaded");
        if (length <= 0 || start + length > 0x10000) throw new ArgumentOutOfRangeException(nameof(length));
        _fwPorts.Add((start, start + length));
    }

    /// <summary>The firmware handles guest-physical [start, start + length): the pages become MMIO, so every access leaves the fast path.</summary>
    public void ClaimMmioForFirmware(uint start, uint length)
    {
        if (_fwEnd == 0) throw new InvalidOperationException("no firmware is loaded");
        if (length == 0 || (ulong)start + length > 0x1_0000_0000UL) throw new ArgumentOutOfRangeException(nameof(length));
        if (start < _fwEnd && start + length > _fwBase) throw new ArgumentException("the firmware cannot claim its own region");
        _mem.MapMmio(start, length);
        _fwMmio.Add((start, start + length));
    }

    private bool FirmwareClaimsPort(ushort port, int size)
    {
        foreach (var (s, e) in _fwPorts)
            if (port < e && port + size > s) return true;
        return false;
    }

    private bool FirmwareClaimsMmio(uint address, int size)
    {
        foreach (var (s, e) in _fwMmio)
            if (address < e && (ulong)address + (ulong)size > s) return true;
        return false;
    }

    // ---- Entry ----

    /// <summary>IN or OUT (not string): true when the firmware took it (or it was a nested exit, now abandoned).</summary>
    private bool FirmwarePort(ushort port, int size, bool input, uint value)
    {
        if (_inFirmware)
        {
            AbandonFirmware(FirmwareFailure.NestedExit, $"the handler accessed port 0x{port:X}");
            return true;
        }
        if (!FirmwareClaimsPort(port, size)) return false;
        SaveGuestState(EipReg, _nextEip - EipReg);
        BeginRequest(input ? FirmwareAbi.KindPortIn : FirmwareAbi.KindPortOut, port, size, 0, 1, 0, 0, 0);
        EnterFirmware(input ? 0 : value);
        return true;
    }

    /// <summary>
    /// INS or OUTS (with or without REP): true when the firmware took it. Forward REP runs in chunks
    /// as StringIoChunk's (StringIoChunkLength, at most the data buffer), one element otherwise. The memory is checked (and OUTS's data read) before the handler runs, so a fault is precise.
    /// </summary>
    private bool FirmwareString(bool outs, int srcSeg, ushort port, int size, bool rep, uint count, uint amask)
    {
        if (_inFirmware)
        {
            AbandonFirmware(FirmwareFailure.NestedExit, $"the handler accessed port 0x{port:X}");
            return true;
        }
        if (!FirmwareClaimsPort(port, size)) return false;
        int seg = outs ? srcSeg : SegmentIndex.ES;
        int idx = outs ? 6 : 7;
        bool down = (_flags & Flags.DF) != 0;
        uint off = R[idx] & amask;
        uint n = rep && !down && (_flags & Flags.TF) == 0 ? StringIoChunkLength(seg, off, size, count, amask, FirmwareAbi.DataBufferSize) : 1;
        Span<byte> data = _ioBuffer.AsSpan(0, (int)(n * (uint)size));
        CheckStringIoChunk(outs, seg, off, size, amask, data);
        SaveGuestState(EipReg, _nextEip - EipReg);
        uint flags = FirmwareAbi.FlagString | (rep ? FirmwareAbi.FlagRep : 0) | (down ? FirmwareAbi.FlagDirectionDown : 0) | (amask == 0xFFFF ? FirmwareAbi.FlagAddress16 : 0);
        BeginRequest(outs ? FirmwareAbi.KindPortOut : FirmwareAbi.KindPortIn, port, size, flags, n, Seg[seg].Base + off, seg, amask);
        if (outs) WriteFirmwareBytes(_fwBase + FirmwareAbi.DataBuffer, data);
        else FillFirmwareBytes(_fwBase + FirmwareAbi.DataBuffer, (int)(n * (uint)size), 0);
        uint first = 0;
        for (int b = 0; outs && b < size; b++) first |= (uint)data[b] << (8 * b);
        EnterFirmware(first);
        return true;
    }

    /// <summary>
    /// The MMU's slow path reached MMIO at <paramref name="phys"/>: answers it from the completions of
    /// an instruction being run again after RSM (true), leaves it to the exit handler (false), or
    /// unwinds the instruction to reflect it (throws).
    /// </summary>
    private bool FirmwareMmio(uint phys, int size, bool write, ref ulong value)
    {
        if (_inFirmware) throw _fwMmioExit.Set(phys, size, write, value);
        if (!FirmwareClaimsMmio(phys, size)) return false;
        if (_fwReplaying)
        {
            // The first completion not yet used by this run of the instruction, for the same access:
            // a read-modify-write finds its read and its write, a REP its current element.
            for (int i = 0; i < _fwMmioLog.Count; i++)
            {
                var e = _fwMmioLog[i];
                if (e.Used || e.Address != phys || e.Size != size || e.Write != write) continue;
                _fwMmioLog[i] = e with { Used = true };
                if (!write) value = e.Value;
                return true;
            }
        }
        if (!_fwActive) return false; // abandoned: unclaimed from now on
        throw _fwMmioExit.Set(phys, size, write, value);
    }

    /// <summary>The run loop runs the instruction an MMIO completion waits for: every completion is unused again.</summary>
    private void BeginMmioReplay()
    {
        _fwReplayNext = false;
        _fwReplaying = true;
        for (int i = 0; i < _fwMmioLog.Count; i++) _fwMmioLog[i] = _fwMmioLog[i] with { Used = false };
    }

    /// <summary>The run loop caught <see cref="FirmwareMmioExit"/>: the instruction has not retired (EipReg points at it).</summary>
    private void ReflectMmio(FirmwareMmioExit x)
    {
        if (_inFirmware)
        {
            AbandonFirmware(FirmwareFailure.NestedExit, $"the handler accessed MMIO at 0x{x.Address:X8}");
            return;
        }
        if (!_fwReplaying) _fwMmioLog.Clear();
        _fwReplaying = false;
        SaveGuestState(EipReg, 0);
        BeginRequest(x.Write ? FirmwareAbi.KindMmioWrite : FirmwareAbi.KindMmioRead, x.Address, x.Size, 0, 1, 0, 0, 0);
        EnterFirmware(x.Write ? x.Value : 0);
        _fwEntryRetired = _retired;
        _fwDeadline = _retired + FirmwareInstructionBudget;
        EipReg = _nextEip;
    }

    private void SaveGuestState(uint eip, uint length)
    {
        R.CopyTo(_fwR, 0);
        Seg.CopyTo(_fwSeg, 0);
        _fwEip = eip;
        _fwLength = length;
        _fwEflags = GetEflags();
        _fwCr0 = Cr0; _fwCr2 = Cr2; _fwCr3 = Cr3; _fwCr4 = Cr4;
        _fwDr6 = Dr[6]; _fwDr7 = Dr[7];
        _fwCpl = Cpl;
        _fwLdtr = Ldtr; _fwTr = Tr;
        _fwGdtr = Gdtr; _fwIdtr = Idtr;
        _fwShadow = _shadow; _fwMovSsShadow = _movSsShadow;

        Span<byte> s = stackalloc byte[FirmwareAbi.SaveAreaSize];
        for (int i = 0; i < 8; i++) Put32(s, FirmwareAbi.SaveRegisters + 4 * i, R[i]);
        Put32(s, FirmwareAbi.SaveEip, eip);
        Put32(s, FirmwareAbi.SaveEflags, _fwEflags);
        Put32(s, FirmwareAbi.SaveCr0, Cr0);
        Put32(s, FirmwareAbi.SaveCr3, Cr3);
        Put32(s, FirmwareAbi.SaveCr4, Cr4);
        Put32(s, FirmwareAbi.SaveCr2, Cr2);
        Put32(s, FirmwareAbi.SaveDr7, Dr[7]);
        Put32(s, FirmwareAbi.SaveDr6, Dr[6]);
        for (int i = 0; i < 6; i++) PutSegment(s, FirmwareAbi.SaveSegments + FirmwareAbi.SegmentRecordSize * i, Seg[i]);
        PutSegment(s, FirmwareAbi.SaveLdtr, Ldtr);
        PutSegment(s, FirmwareAbi.SaveTr, Tr);
        Put32(s, FirmwareAbi.SaveGdtrBase, Gdtr.Base);
        BinaryPrimitives.WriteUInt16LittleEndian(s[FirmwareAbi.SaveGdtrLimit..], Gdtr.Limit);
        BinaryPrimitives.WriteUInt16LittleEndian(s[FirmwareAbi.SaveIdtrLimit..], Idtr.Limit);
        Put32(s, FirmwareAbi.SaveIdtrBase, Idtr.Base);
        s[FirmwareAbi.SaveCpl] = (byte)Cpl;
        s[FirmwareAbi.SaveShadow] = (byte)((_shadow ? 1 : 0) | (_movSsShadow ? 2 : 0));
        s[FirmwareAbi.SaveNmiBlocked] = (byte)(_nmiBlocked ? 1 : 0);
        Put32(s, FirmwareAbi.SaveInstructionLength, length);
        Put32(s, FirmwareAbi.SaveRevision, FirmwareAbi.Revision);
        WriteFirmwareBytes(_fwBase + FirmwareAbi.SaveArea, s);
    }

    private static void Put32(Span<byte> s, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(s[at..], v);

    private static void PutSegment(Span<byte> s, int at, in SegmentRegister r)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(s[at..], r.Selector);
        BinaryPrimitives.WriteUInt16LittleEndian(s[(at + 2)..], r.Attributes);
        Put32(s, at + 4, r.Base);
        Put32(s, at + 8, r.Limit);
    }

    private void BeginRequest(uint kind, uint target, int size, uint flags, uint count, uint linear, int segment, uint amask)
    {
        _fwKind = kind; _fwTarget = target; _fwSize = size; _fwFlags = flags; _fwCount = count; _fwSegment = segment; _fwAmask = amask;
        Span<byte> b = stackalloc byte[FirmwareAbi.RequestBlockSize];
        Put32(b, FirmwareAbi.RequestKind, kind);
        Put32(b, FirmwareAbi.RequestTarget, target);
        Put32(b, FirmwareAbi.RequestSize, (uint)size);
        Put32(b, FirmwareAbi.RequestFlags, flags);
        Put32(b, FirmwareAbi.RequestCount, count);
        Put32(b, FirmwareAbi.RequestLinear, linear);
        Put32(b, FirmwareAbi.RequestSegment, (uint)segment);
        Put32(b, FirmwareAbi.RequestBuffer, _fwBase + FirmwareAbi.DataBuffer);
        Put32(b, FirmwareAbi.RequestStatus, FirmwareAbi.StatusPending);
        WriteFirmwareBytes(_fwBase + FirmwareAbi.RequestBlock, b);
    }

    /// <summary>
    /// Switches to the handler: flat 32-bit protected mode at CPL 0, paging off, interrupts and
    /// single-step off, no descriptor tables (a segment load or an exception is a failure, caught
    /// before it could be delivered), the request in registers (docs/firmware-reflection.md).
    /// </summary>
    private void EnterFirmware(ulong data)
    {
        WriteFirmware64(FirmwareAbi.RequestData, data);
        _fwReflections++;
        _inFirmware = true;
        _fwEntryRetired = -1;
        _fwDeadline = long.MaxValue;
        Cr0 = ControlBits.CR0_PE | ControlBits.CR0_ET;
        Cr4 = 0;
        Dr[7] = 0x400;
        Gdtr = new DescriptorTableRegister { Base = 0, Limit = 0 };
        Idtr = new DescriptorTableRegister { Base = 0, Limit = 0 };
        for (int i = 0; i < 6; i++)
            Seg[i] = new SegmentRegister { Selector = 0, Base = 0, Limit = 0xFFFF_FFFF, Attributes = 0xC093 };
        Seg[SegmentIndex.CS] = new SegmentRegister { Selector = 0, Base = 0, Limit = 0xFFFF_FFFF, Attributes = 0xC09B };
        SetCpl(0);
        SetEflags(Flags.Reserved1);
        _shadow = false;
        _movSsShadow = false;
        R[0] = _fwKind;
        R[1] = (uint)_fwSize;
        R[2] = _fwTarget;
        R[3] = _fwBase + FirmwareAbi.RequestBlock;
        R[4] = _fwEnd;
        R[5] = 0;
        R[6] = _fwCount;
        R[7] = (uint)data;
        FlushTlb();
        ModeChanged();
        _nextEip = _fwBase + FirmwareAbi.Image;
        _exitBlock = true;
    }

    // ---- Resume ----

    /// <summary>RSM: #UD outside a handler (as outside SMM); in one, checks the completion, restores the state and completes the access.</summary>
    private void ExecRsm()
    {
        if (!_inFirmware) throw Fault(Vectors.UD);
        uint status = _mem.Read32(_fwBase + FirmwareAbi.RequestBlock + FirmwareAbi.RequestStatus);
        if (status != FirmwareAbi.StatusCompleted)
        {
            AbandonFirmware(FirmwareFailure.BadCompletion, $"RSM with request status {status} (expected {FirmwareAbi.StatusCompleted})");
            return;
        }
        ulong value = ReadFirmware64(FirmwareAbi.RequestData);
        _fwExitPending = true;
        LeaveFirmware(value, fromBuffer: true);
    }

    /// <summary>
    /// Puts the guest's state back and completes the access: an IN value in AL/AX/EAX, INS's
    /// elements in memory at ES:EDI, ESI/EDI/ECX advanced as the CPU would; an MMIO access runs its
    /// instruction again with the completion waiting for it. Sets where the guest goes on.
    /// </summary>
    private void LeaveFirmware(ulong value, bool fromBuffer)
    {
        _inFirmware = false;
        _fwR.CopyTo(R, 0);
        Cr0 = _fwCr0; Cr2 = _fwCr2; Cr3 = _fwCr3; Cr4 = _fwCr4;
        Dr[6] = _fwDr6; Dr[7] = _fwDr7;
        Gdtr = _fwGdtr; Idtr = _fwIdtr;
        Ldtr = _fwLdtr; Tr = _fwTr;
        _fwSeg.CopyTo(Seg, 0);
        SetEflags(_fwEflags);
        SetCpl(_fwCpl);
        FlushTlb();
        ModeChanged();
        _shadow = _fwShadow;
        _movSsShadow = _fwMovSsShadow;
        EipReg = _fwEip;
        uint next = _fwEip + _fwLength;
        _exitBlock = true;
        switch (_fwKind)
        {
            case FirmwareAbi.KindMmioRead:
            case FirmwareAbi.KindMmioWrite:
                if (_fwMmioLog.Count == MmioLogLength) _fwMmioLog.RemoveAt(0);
                _fwMmioLog.Add((_fwTarget, _fwSize, _fwKind == FirmwareAbi.KindMmioWrite, value, false));
                _fwReplayNext = true;
                next = _fwEip;
                break;
            case FirmwareAbi.KindPortIn when (_fwFlags & FirmwareAbi.FlagString) == 0:
                R[0] = _fwSize switch { 1 => (R[0] & 0xFFFF_FF00) | (byte)value, 2 => (R[0] & 0xFFFF_0000) | (ushort)value, _ => (uint)value };
                break;
            case FirmwareAbi.KindPortIn:
            case FirmwareAbi.KindPortOut when (_fwFlags & FirmwareAbi.FlagString) != 0:
                next = CompleteString(fromBuffer);
                break;
        }
        _nextEip = next;
        EipReg = next;
    }

    private uint CompleteString(bool fromBuffer)
    {
        bool outs = _fwKind == FirmwareAbi.KindPortOut;
        int idx = outs ? 6 : 7;
        int size = _fwSize;
        int delta = (_flags & Flags.DF) != 0 ? -size : size;
        uint amask = _fwAmask;
        uint n = _fwCount;
        if (!outs)
        {
            // A fault writing the data is the guest's, at its instruction (EipReg): as on hardware, the port was read.
            Span<byte> data = _ioBuffer.AsSpan(0, (int)(n * (uint)size));
            if (fromBuffer) _mem.Read(_fwBase + FirmwareAbi.DataBuffer, data);
            else data.Fill(0xFF);
            StoreStringIoChunk(R[7] & amask, size, delta, amask, data);
        }
        AdvanceIndex(idx, (int)n * delta, amask);
        if ((_fwFlags & FirmwareAbi.FlagRep) == 0) return _fwEip + _fwLength;
        uint left = ((amask == 0xFFFF ? R[1] & 0xFFFF : R[1]) - n) & amask;
        if (amask == 0xFFFF) SetReg16(1, (ushort)left); else R[1] = left;
        return left == 0 ? _fwEip + _fwLength : _fwEip; // the rest in the next chunk, after any pending interrupt
    }

    /// <summary>
    /// A handler failed: the access completes as an unclaimed one (reads all-ones, writes dropped),
    /// reflection is off for the rest of the run, and the host hears why once.
    /// </summary>
    private void AbandonFirmware(FirmwareFailure why, string detail)
    {
        _fwActive = false;
        _fwFailure = why;
        _fwExitPending = true;
        _halted = false;
        // MMIO: answered as unclaimed without running the instruction again through the firmware
        // (reflection is off now, so it goes to the exit handler like any unclaimed MMIO).
        // An MMIO access runs its instruction once more with the all-ones completion waiting for it.
        LeaveFirmware(ulong.MaxValue, fromBuffer: false);
        FirmwareFailed?.Invoke(why, $"firmware handler {FailureText(why)} ({detail}); its ranges are unclaimed for the rest of the run");
    }

    private static string FailureText(FirmwareFailure why) => why switch
    {
        FirmwareFailure.Fault => "faulted",
        FirmwareFailure.Loop => "ran past its instruction budget",
        FirmwareFailure.NestedExit => "made an access of its own (a nested exit)",
        FirmwareFailure.BadCompletion => "resumed with a malformed completion",
        _ => "halted with interrupts off",
    };

    /// <summary>After ExecuteBlocks in the run loop: counts the handler's instructions and watches its budget and HLT.</summary>
    private void FirmwareAfterBlocks()
    {
        if (_inFirmware && _fwEntryRetired < 0)
        {
            _fwEntryRetired = _retired;
            _fwDeadline = _retired + FirmwareInstructionBudget;
        }
        if (_fwExitPending)
        {
            _fwExitPending = false;
            if (_fwEntryRetired >= 0) _fwHandlerInstructions += _retired - _fwEntryRetired;
            _fwEntryRetired = -1;
        }
        if (!_inFirmware) return;
        if (_halted) AbandonFirmware(FirmwareFailure.Halted, "HLT");
        else if (_retired >= _fwDeadline) AbandonFirmware(FirmwareFailure.Loop, $"{FirmwareInstructionBudget} instructions without RSM");
        else return;
        FirmwareAfterBlocks();
    }

    /// <summary>A guest exception inside the handler: never delivered (firmware mode has no IDT); the handler is abandoned.</summary>
    private void FirmwareFaulted(GuestFault f)
    {
        AbandonFirmware(FirmwareFailure.Fault, $"{f.Message} at 0x{EipReg:X8}");
        FirmwareAfterBlocks();
    }

    /// <summary>firmware_output and firmware_irq (VirtCall), from a handler only.</summary>
    private uint FirmwareCall(VirtCall call)
    {
        if (!_inFirmware) return VirtAbi.ErrorPerm;
        _fwMonitorCalls++;
        switch (call)
        {
            case VirtCall.FirmwareOutput:
                {
                    uint length = R[2];
                    if (length > VirtAbi.MaxConsoleBytes) return VirtAbi.ErrorInvalid;
                    Span<byte> data = stackalloc byte[(int)length];
                    if (!TryReadGuestLinear(R[3], data)) return VirtAbi.ErrorFault;
                    FirmwareConsole?.Invoke(data);
                    return length;
                }
            default:
                if (R[3] > 15) return VirtAbi.ErrorInvalid;
                FirmwareIrq?.Invoke((int)R[3], R[2] != 0);
                return VirtAbi.Ok;
        }
    }

    // ---- The region's memory: read-only to the guest, written by the monitor and by the handler ----

    private bool InFirmwareRegion(uint phys, int size) => phys >= _fwBase && (ulong)phys + (ulong)size <= _fwEnd;

    /// <summary>A physical write of the MMU's slow path: the handler's writes to its own region go through; anything else as usual.</summary>
    private void WritePhysical(uint phys, int size, ulong v)
    {
        if (_inFirmware && InFirmwareRegion(phys, size)) _mem.WriteProtected(phys, size, v);
        else _mem.WriteN(phys, size, v);
    }

    // PhysicalMemory.Load writes RAM and ROM alike (and drops code decoded from the page).
    private void WriteFirmwareBytes(uint address, ReadOnlySpan<byte> data) => _mem.Load(address, data);

    private void FillFirmwareBytes(uint address, int length, byte value)
    {
        Span<byte> b = stackalloc byte[length];
        b.Fill(value);
        _mem.Load(address, b);
    }

    private ulong ReadFirmware64(int offset) => _mem.Read64(_fwBase + FirmwareAbi.RequestBlock + (uint)offset);

    private void WriteFirmware64(int offset, ulong v) => _mem.WriteProtected(_fwBase + FirmwareAbi.RequestBlock + (uint)offset, 8, v);
}
