using System.Runtime.CompilerServices;
using Virt.Cpu.Execution;
using Virt.Cpu.State;

namespace Virt.Cpu;

// The run loop: events (NMI, INTR) at block boundaries, then one block at a time through the
// compact-form interpreter. Guest exceptions unwind to here and are delivered through the IDT.
public sealed partial class Cpu
{
    private Block? _executing;   // the block whose ops are running (only read on the fault path)
    private uint _blockStartEip;
    private bool _inBlock;
    private bool _exitBlock;   // set by handlers that change mode or code: leave the block after this instruction
    private bool _shadow;      // STI / MOV SS interrupt shadow over the next instruction
    private bool _movSsShadow; // MOV SS / POP SS only: the shadow also holds back the single-step trap
    private bool _interruptDelivered; // set by every delivery: an INT n run with TF set enters its handler without a single-step trap

    /// <summary>
    /// Runs guest code until the budget of instructions is used, the VCPU halts, shuts down, or a
    /// stop is requested. Never throws for anything the guest does.
    /// </summary>
    public StopReason Run(long instructionBudget)
    {
        long end = instructionBudget >= long.MaxValue - _retired ? long.MaxValue : _retired + instructionBudget;
        if (_pvClockAddress is not null) RefreshPvClock();
        while (true)
        {
            if (_stopRequested) { _stopRequested = false; return StopReason.StopRequested; }
            if (ShutdownReason != null) return StopReason.Shutdown;
            try
            {
                // No event is taken inside a firmware handler, nor before the instruction an MMIO completion waits for (Cpu.Firmware.cs).
                if (!_shadow && !_inFirmware && !_fwReplayNext && ServiceEvents()) continue;
                if (_halted) return StopReason.Halted;
                if (_retired >= end) return StopReason.BudgetExhausted;
                // Code the compile thread finished (NativeCompileInBackground) is placed between slices.
                if (Volatile.Read(ref _nativeCompiledCount) != 0) PlaceCompiledNative();

                if (_fwReplayNext)
                {
                    // The instruction whose MMIO access the firmware completed runs again, alone, answered from the completions.
                    BeginMmioReplay();
                    ExecuteBlocks(_retired + 1);
                    _fwReplaying = false;
                    _fwMmioLog.Clear();
                    FirmwareAfterBlocks();
                }
                else if ((_flags & Flags.TF) != 0 || _shadow)
                {
                    // One instruction, then the trap or the end of the interrupt shadow.
                    bool singleStep = (_flags & Flags.TF) != 0;
                    _shadow = false;
                    _movSsShadow = false;
                    _interruptDelivered = false;
                    ExecuteBlocks(_retired + 1);
                    FirmwareAfterBlocks();
                    // After MOV SS / POP SS no debug trap is taken until the next instruction has run
                    // (SDM vol. 3 6.8.3), so a handler never sees SS loaded with the old ESP; the
                    // trap then comes after that instruction, taken by the next pass of this loop.
                    // INT n, INT3 and INTO clear TF on the way into their handler, and the
                    // single-step trap of the INT itself is discarded with it (as Bochs discards
                    // traps for the new context; the next one follows the instruction after the
                    // INT, once IRET has restored TF). Linux warns on a kernel-mode #DB with BS set,
                    // which a trap at the first instruction of its INT 0x80 entry would be.
                    if (singleStep && !_halted && !_movSsShadow && !_interruptDelivered && !_inFirmware) DebugTrap();
                }
                else
                {
                    ExecuteBlocks(_inFirmware ? Math.Min(end, _fwDeadline) : end);
                    FirmwareAfterBlocks();
                }
            }
            catch (Firmware.FirmwareMmioExit x)
            {
                RetiredBeforeFault();
                FirmwareAfterBlocks();
                ReflectMmio(x);
                FirmwareAfterBlocks();
            }
            catch (GuestFault f)
            {
                RetiredBeforeFault();
                _fwReplaying = false;
                if (_inFirmware)
                {
                    FirmwareFaulted(f);
                    continue;
                }
                try
                {
                    DeliverFault(f);
                }
                catch (ShutdownException s)
                {
                    ShutdownReason = s.Message;
                    return StopReason.Shutdown;
                }
            }
            catch (ShutdownException s)
            {
                ShutdownReason = s.Message;
                return StopReason.Shutdown;
            }
        }
    }

    /// <summary>Delivers a pending NMI or external interrupt. True when one was delivered.</summary>
    private bool ServiceEvents()
    {
        if (_nmiPending && !_nmiBlocked)
        {
            _nmiPending = false;
            _nmiBlocked = true;
            _halted = false;
            DeliverInterrupt(Vectors.NMI, InterruptKind.Nmi, EipReg, false, 0);
            return true;
        }
        if ((_flags & Flags.IF) != 0)
        {
            var pic = InterruptController;
            if (pic != null && pic.HasInterrupt)
            {
                int vector = pic.AcknowledgeInterrupt();
                if (vector >= 0)
                {
                    _halted = false;
                    DeliverInterrupt(vector, InterruptKind.External, EipReg, false, 0);
                    return true;
                }
            }
        }
        return false;
    }

    /// <summary>
    /// The hot loop: executes blocks one after another, chaining through the jump cache, until
    /// <paramref name="end"/> instructions have retired or something needs the outer loop (a halt,
    /// a mode or flag change that ended a block, a pending interrupt or stop request). EipReg
    /// always holds the address of the instruction being executed, so a fault thrown by a
    /// handler is precise.
    /// </summary>
    private void ExecuteBlocks(long end)
    {
        uint[] r = R;
        while (true)
        {
            Block b = LookupBlock();
            // No try/finally here: a finally would pin the loop counter to the stack. The fault path
            // recovers how many ops retired from EipReg instead (RetiredBeforeFault).
            if (!ReferenceEquals(_executing, b)) _executing = b;
            _blockStartEip = EipReg;
            _inBlock = true;
            _exitBlock = false;
            DecodedOp[] ops = b.Ops;
            long left = end - _retired;
            if (_native && (b.Native != null || (++b.Heat >= TranslationThreshold && HeatUp(b))) && left >= ops.Length)
            {
                long k = RunNative(b, b.Native!, EipReg, left);
                if (k >= 0)
                {
                    _retired += k;
                    _inBlock = false;
                    if (_exitBlock || _retired >= end || _stopRequested || _nmiPending) return;
                    if ((_flags & Flags.IF) != 0 && InterruptController is { HasInterrupt: true }) return;
                    continue;
                }
            }
            int n = left < ops.Length ? (int)left : ops.Length;
            int i = 0;
            for (; i < n; i++)
            {
                ref DecodedOp d = ref ops[i];
                uint next = EipReg + d.Len;
                switch (d.Op)
                {
                    case Op.Nop: break;
                    case Op.MovRR32: r[d.Dst] = r[d.Src]; break;
                    case Op.MovRI32: r[d.Dst] = d.Imm; break;
                    case Op.MovRM32: r[d.Dst] = Read32(d.Seg, Ea(ref d)); break;
                    case Op.MovMR32: Write32(d.Seg, Ea(ref d), r[d.Src]); break;
                    case Op.MovMI32: Write32(d.Seg, Ea(ref d), d.Imm); break;
                    case Op.MovRM8: SetReg8(d.Dst, Read8(d.Seg, Ea(ref d))); break;
                    case Op.MovMR8: Write8(d.Seg, Ea(ref d), GetReg8(d.Src)); break;
                    case Op.MovzxRM8: r[d.Dst] = Read8(d.Seg, Ea(ref d)); break;
                    case Op.MovzxRR8: r[d.Dst] = GetReg8(d.Src); break;
                    case Op.MovzxRM16: r[d.Dst] = Read16(d.Seg, Ea(ref d)); break;

                    case Op.AluRR32: { uint res = Alu(d.Sub, r[d.Dst], r[d.Src], 32); if (d.Sub < 7) r[d.Dst] = res; break; }
                    case Op.AluRI32: { uint res = Alu(d.Sub, r[d.Dst], d.Imm, 32); if (d.Sub < 7) r[d.Dst] = res; break; }
                    case Op.AluRM32: { uint res = Alu(d.Sub, r[d.Dst], Read32(d.Seg, Ea(ref d)), 32); if (d.Sub < 7) r[d.Dst] = res; break; }
                    case Op.AluMR32: AluMem32(ref d, r[d.Src]); break;
                    case Op.AluMI32: AluMem32(ref d, d.Imm); break;
                    case Op.AddRR32: { uint a = r[d.Dst], c = r[d.Src], res = a + c; r[d.Dst] = res; SetLazy32(LazyOp.Add, a, c, res); break; }
                    case Op.SubRR32: { uint a = r[d.Dst], c = r[d.Src], res = a - c; r[d.Dst] = res; SetLazy32(LazyOp.Sub, a, c, res); break; }
                    case Op.CmpRR32: { uint a = r[d.Dst], c = r[d.Src]; SetLazy32(LazyOp.Sub, a, c, a - c); break; }
                    case Op.AndRR32: { uint res = r[d.Dst] & r[d.Src]; r[d.Dst] = res; SetLazy32(LazyOp.Logic, 0, 0, res); break; }
                    case Op.OrRR32: { uint res = r[d.Dst] | r[d.Src]; r[d.Dst] = res; SetLazy32(LazyOp.Logic, 0, 0, res); break; }
                    case Op.XorRR32: { uint res = r[d.Dst] ^ r[d.Src]; r[d.Dst] = res; SetLazy32(LazyOp.Logic, 0, 0, res); break; }
                    case Op.TestRR32: SetLazy32(LazyOp.Logic, 0, 0, r[d.Dst] & r[d.Src]); break;
                    case Op.AddRI32: { uint a = r[d.Dst], res = a + d.Imm; r[d.Dst] = res; SetLazy32(LazyOp.Add, a, d.Imm, res); break; }
                    case Op.SubRI32: { uint a = r[d.Dst], res = a - d.Imm; r[d.Dst] = res; SetLazy32(LazyOp.Sub, a, d.Imm, res); break; }
                    case Op.CmpRI32: { uint a = r[d.Dst]; SetLazy32(LazyOp.Sub, a, d.Imm, a - d.Imm); break; }
                    case Op.AndRI32: { uint res = r[d.Dst] & d.Imm; r[d.Dst] = res; SetLazy32(LazyOp.Logic, 0, 0, res); break; }
                    case Op.OrRI32: { uint res = r[d.Dst] | d.Imm; r[d.Dst] = res; SetLazy32(LazyOp.Logic, 0, 0, res); break; }
                    case Op.XorRI32: { uint res = r[d.Dst] ^ d.Imm; r[d.Dst] = res; SetLazy32(LazyOp.Logic, 0, 0, res); break; }
                    case Op.TestRI32: SetLazy32(LazyOp.Logic, 0, 0, r[d.Dst] & d.Imm); break;
                    case Op.AluRR8: AluReg8(d.Sub, d.Dst, GetReg8(d.Src)); break;
                    case Op.AluRI8: AluReg8(d.Sub, d.Dst, d.Imm); break;
                    case Op.AluRM8: AluReg8(d.Sub, d.Dst, Read8(d.Seg, Ea(ref d))); break;
                    case Op.AluMI8:
                        {
                            uint ea = Ea(ref d);
                            if (d.Sub < 7) ProbeWrite(d.Seg, ea, 1); // as AluMem32
                            uint a = Read8(d.Seg, ea);
                            uint res = Alu(d.Sub, a, d.Imm, 8);
                            if (d.Sub < 7) Write8(d.Seg, ea, (byte)res);
                            break;
                        }
                    case Op.IncR32: { uint a = r[d.Dst]; r[d.Dst] = a + 1; SetLazyIncDec(LazyOp.Inc, a, a + 1, 32); break; }
                    case Op.DecR32: { uint a = r[d.Dst]; r[d.Dst] = a - 1; SetLazyIncDec(LazyOp.Dec, a, a - 1, 32); break; }
                    case Op.PushR32: Push32(r[d.Dst]); break;
                    case Op.PopR32: { uint v = Pop32(); r[d.Dst] = v; break; }
                    case Op.PushI32: Push32(d.Imm); break;
                    case Op.Lea32: r[d.Dst] = Ea(ref d); break;
                    case Op.XchgRR32: { uint t = r[d.Dst]; r[d.Dst] = r[d.Src]; r[d.Src] = t; break; }
                    case Op.Setcc: SetReg8(d.Dst, Condition(d.Sub) ? (byte)1 : (byte)0); break;
                    case Op.Cmov32: if (Condition(d.Sub)) r[d.Dst] = r[d.Src]; break;
                    case Op.ShiftRI32: r[d.Dst] = Shift(d.Sub, r[d.Dst], d.Imm & 31, 32); break;
                    case Op.ShiftRC32: r[d.Dst] = Shift(d.Sub, r[d.Dst], r[1] & 31, 32); break;

                    case Op.Jcc:
                        if (Condition(d.Sub)) next = BranchTarget(ref d, next);
                        break;
                    case Op.Jmp: next = BranchTarget(ref d, next); break;
                    case Op.Call32:
                        if (_inlineHotCalls && InlineHotCall(next + d.Imm)) break; // a hot call-table entry, inline (Cpu.CallTable.cs)
                        Push32(next); next += d.Imm; break;
                    case Op.Ret32: { uint t = PeekStack(0, 4); CheckNearTarget(t); AdjustSp(4 + (int)d.Imm); next = t; break; }
                    case Op.JmpR32: next = CheckNearTarget(r[d.Dst]); break;
                    case Op.JmpM32: next = CheckNearTarget(Read32(d.Seg, Ea(ref d))); break;
                    case Op.CallR32: { uint t = CheckNearTarget(r[d.Dst]); Push32(next); next = t; break; }
                    case Op.CallM32: { uint t = CheckNearTarget(Read32(d.Seg, Ea(ref d))); Push32(next); next = t; break; }

                    default:
                        _nextEip = next;
                        ExecuteGeneric(in b.Instructions[d.Extra]);
                        next = _nextEip;
                        break;
                }
                EipReg = next;
                if (_exitBlock) { i++; break; }
            }
            _retired += i;
            _inBlock = false;
            if (_exitBlock || _retired >= end || _stopRequested || _nmiPending) return;
            if ((_flags & Flags.IF) != 0 && InterruptController is { HasInterrupt: true }) return;
        }
    }

    /// <summary>On a fault inside a block: counts the ops before the faulting one (EipReg points at it).</summary>
    private void RetiredBeforeFault()
    {
        if (!_inBlock || _executing is not { } b) return;
        _inBlock = false;
        uint eip = _blockStartEip;
        var ops = b.Ops;
        for (int i = 0; i < ops.Length && eip != EipReg; i++, _retired++) eip += ops[i].Len;
        _executing = null;
    }

    /// <summary>Effective address (segment offset) of the compact form's memory operand.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint Ea(ref DecodedOp d)
    {
        uint ea = d.Disp;
        if (d.Base != DecodedOp.NoReg) ea += R[d.Base];
        if (d.Index != DecodedOp.NoReg) ea += R[d.Index] << d.Scale;
        return d.Addr16 != 0 ? ea & 0xFFFF : ea;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint BranchTarget(ref DecodedOp d, uint next)
    {
        uint t = next + d.Imm;
        if (d.Dst == 16) t &= 0xFFFF;
        return CheckNearTarget(t);
    }

    /// <summary>A near branch to an offset beyond the CS limit faults (#GP(0)) before anything changes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint CheckNearTarget(uint target)
    {
        if (target > Seg[SegmentIndex.CS].Limit) throw Fault(Vectors.GP, 0);
        return target;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal byte GetReg8(int i) => i < 4 ? (byte)R[i] : (byte)(R[i - 4] >> 8);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetReg8(int i, byte v)
    {
        if (i < 4) R[i] = (R[i] & 0xFFFF_FF00) | v;
        else R[i - 4] = (R[i - 4] & 0xFFFF_00FF) | ((uint)v << 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetReg16(int i, ushort v) => R[i] = (R[i] & 0xFFFF_0000) | v;

    private void AluReg8(int sub, int dst, uint b)
    {
        uint res = Alu(sub, GetReg8(dst), b, 8);
        if (sub < 7) SetReg8(dst, (byte)res);
    }

    /// <summary>
    /// ALU op on a memory dword. Alu sets the flags, so a destination that is not writable must
    /// fault before it: a fault leaves EFLAGS as before the instruction (SDM Vol. 3 6.5, faults are
    /// restartable), which the #PF frame and a resumed instruction rely on.
    /// </summary>
    private void AluMem32(ref DecodedOp d, uint b)
    {
        uint ea = Ea(ref d);
        if (d.Sub < 7) ProbeWrite(d.Seg, ea, 4);
        uint a = Read32(d.Seg, ea);
        uint res = Alu(d.Sub, a, b, 32);
        if (d.Sub < 7) Write32(d.Seg, ea, res);
    }
}
