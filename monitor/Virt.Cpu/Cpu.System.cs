using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.Paravirt;
using Virt.Cpu.State;

namespace Virt.Cpu;

// Privileged and system instructions: control and debug registers, descriptor-table registers,
// LLDT/LTR, LAR/LSL/VERR/VERW, ARPL, CPUID, RDTSC, MSRs, SYSENTER/SYSEXIT, CLI/STI, PUSHF/POPF.
public sealed partial class Cpu
{
    private readonly Dictionary<uint, ulong> _msrs = new();
    private long _tscOffset;

    /// <summary>The virtual TSC's frequency: RDTSC counts host time at this rate.</summary>
    public long TscHz { get; set; } = 1_000_000_000;

    private TimeProvider _tscClock = TimeProvider.System;

    /// <summary>
    /// The clock RDTSC counts (the host's by default). A host that runs devices on a virtual clock
    /// (e.g. time derived from instructions retired, for deterministic runs) sets the same clock
    /// here so the TSC and the timers agree, as Linux's TSC calibration against the PIT requires.
    /// Setting it restarts the TSC at 0.
    /// </summary>
    public TimeProvider TscClock
    {
        get => _tscClock;
        set { _tscClock = value; _tscOffset = -value.GetTimestamp(); }
    }

    /// <summary>
    /// TSC ticks per instruction retired when <see cref="TscClock"/> counts instructions (time =
    /// instructions x a fixed cost while the VCPU runs), else 0. Native code then reads the TSC
    /// inline instead of calling the RDTSC handler. The host that sets the clock sets this.
    /// </summary>
    public long TscTicksPerInstruction { get; set; }

    /// <summary>Whether CPUID reports a local APIC (the monitor sets this when it provides one).</summary>
    public bool HasApic { get; set; }

    private const uint MsrTsc = 0x10, MsrApicBase = 0x1B, MsrSysenterCs = 0x174, MsrSysenterEsp = 0x175, MsrSysenterEip = 0x176;

    private void ResetMsrs()
    {
        _msrs.Clear();
        _msrs[0x17] = 0;                 // IA32_PLATFORM_ID
        _msrs[MsrApicBase] = 0xFEE0_0900; // BSP, enabled, default base
        _msrs[0x2A] = 0;                 // EBL_CR_POWERON
        _msrs[0x8B] = 0;                 // IA32_BIOS_SIGN_ID (no microcode update)
        _msrs[MsrSysenterCs] = 0;
        _msrs[MsrSysenterEsp] = 0;
        _msrs[MsrSysenterEip] = 0;
        _msrs[0x1A0] = 1;                // IA32_MISC_ENABLE: fast strings
        _tscOffset = -_tscClock.GetTimestamp();
        ResetParavirt();
    }

    /// <summary>
    /// Copies the MSRs the CPU holds (the TSC first, then the others in the order they were first
    /// written) for a state snapshot such as the comm page's MSRS area; returns how many fit.
    /// </summary>
    public int CopyMsrs(Span<uint> indices, Span<ulong> values)
    {
        int n = Math.Min(indices.Length, values.Length);
        if (n == 0) return 0;
        indices[0] = MsrTsc;
        values[0] = ReadTsc();
        int i = 1;
        foreach (KeyValuePair<uint, ulong> m in _msrs)
        {
            if (i == n) break;
            indices[i] = m.Key;
            values[i++] = m.Value;
        }
        return i;
    }

    /// <summary>The virtual time-stamp counter.</summary>
    public ulong ReadTsc()
    {
        long ticks = _tscClock.GetTimestamp() + _tscOffset;
        return (ulong)(long)((Int128)ticks * TscHz / _tscClock.TimestampFrequency);
    }

    private void WriteTsc(ulong value)
    {
        long wantTicks = (long)((Int128)(long)value * _tscClock.TimestampFrequency / TscHz);
        _tscOffset = wantTicks - _tscClock.GetTimestamp();
    }

    private void RequireCpl0()
    {
        if (V86Mode || (ProtectedMode && Cpl != 0)) throw Fault(Vectors.GP, 0);
    }

    private void RequireProtected()
    {
        if (!ProtectedMode || V86Mode) throw Fault(Vectors.UD);
    }

    private int Iopl => (int)((_flags >> 12) & 3);

    private void ExecCli()
    {
        if (V86Mode ? Iopl < 3 : ProtectedMode && Cpl > Iopl) throw Fault(Vectors.GP, 0);
        _flags &= ~Flags.IF;
    }

    private void ExecSti()
    {
        if (V86Mode ? Iopl < 3 : ProtectedMode && Cpl > Iopl) throw Fault(Vectors.GP, 0);
        if ((_flags & Flags.IF) == 0) _shadow = true;
        _flags |= Flags.IF;
        _exitBlock = true;
    }

    private void ExecPushf(int size)
    {
        if (V86Mode && Iopl < 3) throw Fault(Vectors.GP, 0);
        Push(GetEflags() & ~(Flags.VM | Flags.RF), size);
    }

    private void ExecPopf(int size)
    {
        if (V86Mode && Iopl < 3) throw Fault(Vectors.GP, 0);
        uint v = PeekStack(0, size);
        AdjustSp(size);
        if (!ProtectedMode)
        {
            uint keep = Flags.VM | Flags.VIF | Flags.VIP | (size == 2 ? 0xFFFF_0000 : 0);
            SetEflags((GetEflags() & keep) | (v & ~keep & ~Flags.RF));
        }
        else if (V86Mode)
        {
            uint keep = Flags.IOPL | Flags.VM | Flags.VIF | Flags.VIP | (size == 2 ? 0xFFFF_0000 : 0);
            SetEflags((GetEflags() & keep) | (v & ~keep & ~Flags.RF));
        }
        else UpdateFlagsPrivileged(v & ~Flags.RF, size, Cpl);
        _exitBlock = true;
    }

    private void ExecMovToControl(in Instruction ins)
    {
        RequireCpl0();
        uint v = R[s_gprIndex[(int)ins.Op1Register]];
        Register r = ins.Op0Register;
        if (r.IsDR())
        {
            int n = r - Register.DR0;
            if (n is 4 or 5) { if ((Cr4 & ControlBits.CR4_DE) != 0) throw Fault(Vectors.UD); n += 2; }
            Dr[n] = n == 6 ? v | 0xFFFF_0FF0 : n == 7 ? (v | 0x400) & ~0x0000_D000u : v;
            return;
        }
        switch (r)
        {
            case Register.CR0: SetCr0(v); break;
            case Register.CR2: Cr2 = v; break;
            case Register.CR3:
                Cr3 = v & 0xFFFF_F018;
                FlushTlbCore(keepGlobal: (Cr4 & ControlBits.CR4_PGE) != 0);
                break;
            case Register.CR4: SetCr4(v); break;
            default: throw Fault(Vectors.UD);
        }
        _exitBlock = true;
    }

    private void ExecMovFromControl(in Instruction ins)
    {
        RequireCpl0();
        Register r = ins.Op1Register;
        uint v;
        if (r.IsDR())
        {
            int n = r - Register.DR0;
            if (n is 4 or 5) { if ((Cr4 & ControlBits.CR4_DE) != 0) throw Fault(Vectors.UD); n += 2; }
            v = Dr[n];
        }
        else v = r switch
        {
            Register.CR0 => Cr0,
            Register.CR2 => Cr2,
            Register.CR3 => Cr3,
            Register.CR4 => Cr4,
            _ => throw Fault(Vectors.UD),
        };
        R[s_gprIndex[(int)ins.Op0Register]] = v;
    }

    internal void SetCr0(uint v)
    {
        v |= ControlBits.CR0_ET;
        if ((v & ControlBits.CR0_PG) != 0 && (v & ControlBits.CR0_PE) == 0) throw Fault(Vectors.GP, 0);
        if ((v & ControlBits.CR0_NW) != 0 && (v & ControlBits.CR0_CD) == 0) throw Fault(Vectors.GP, 0);
        uint changed = Cr0 ^ v;
        Cr0 = v & 0xE005_003F;
        if ((changed & (ControlBits.CR0_PE | ControlBits.CR0_PG | ControlBits.CR0_WP)) != 0)
        {
            FlushTlb();
            ModeChanged();
        }
    }

    private void SetCr4(uint v)
    {
        const uint supported = ControlBits.CR4_TSD | ControlBits.CR4_DE | ControlBits.CR4_PSE | ControlBits.CR4_PGE | ControlBits.CR4_PCE | ControlBits.CR4_MCE;
        if ((v & ~supported) != 0) throw Fault(Vectors.GP, 0);
        uint changed = Cr4 ^ v;
        Cr4 = v;
        if ((changed & (ControlBits.CR4_PSE | ControlBits.CR4_PGE)) != 0) FlushTlb();
    }

    private void ExecSystem(in Instruction ins)
    {
        switch (ins.Mnemonic)
        {
            case Mnemonic.Lgdt:
            case Mnemonic.Lidt:
                {
                    RequireCpl0();
                    if (ins.Op0Kind != OpKind.Memory) throw Fault(Vectors.UD);
                    int seg = MemSeg(in ins);
                    uint ea = EffectiveAddress(in ins);
                    ushort limit = Read16(seg, ea);
                    uint b = Read32(seg, ea + 2);
                    if (ins.Code is Code.Lgdt_m1632_16 or Code.Lidt_m1632_16) b &= 0x00FF_FFFF;
                    var t = new DescriptorTableRegister { Base = b, Limit = limit };
                    if (ins.Mnemonic == Mnemonic.Lgdt) Gdtr = t; else Idtr = t;
                    break;
                }
            case Mnemonic.Sgdt:
            case Mnemonic.Sidt:
                {
                    if (ins.Op0Kind != OpKind.Memory) throw Fault(Vectors.UD);
                    var t = ins.Mnemonic == Mnemonic.Sgdt ? Gdtr : Idtr;
                    int seg = MemSeg(in ins);
                    uint ea = EffectiveAddress(in ins);
                    ProbeWrite(seg, ea, 6);
                    Write16(seg, ea, t.Limit);
                    Write32(seg, ea + 2, t.Base);
                    break;
                }
            case Mnemonic.Lldt:
                {
                    RequireProtected();
                    RequireCpl0();
                    ushort sel = (ushort)ReadOperand(in ins, 0, 16);
                    if ((sel & 0xFFFC) == 0) { Ldtr = new SegmentRegister { Selector = sel }; break; }
                    if ((sel & 4) != 0) throw Fault(Vectors.GP, (uint)sel & 0xFFFC);
                    var d = ParseDescriptor(sel, ReadDescriptor(sel));
                    if (!d.IsSystem || d.Type != 2) throw Fault(Vectors.GP, (uint)sel & 0xFFFC);
                    if (!d.Present) throw Fault(Vectors.NP, (uint)sel & 0xFFFC);
                    Ldtr = d;
                    break;
                }
            case Mnemonic.Ltr:
                {
                    RequireProtected();
                    RequireCpl0();
                    ushort sel = (ushort)ReadOperand(in ins, 0, 16);
                    if ((sel & 0xFFFC) == 0) throw Fault(Vectors.GP, 0);
                    if ((sel & 4) != 0) throw Fault(Vectors.GP, (uint)sel & 0xFFFC);
                    ulong raw = ReadDescriptor(sel);
                    var d = ParseDescriptor(sel, raw);
                    if (!d.IsSystem || (d.Type != 1 && d.Type != 9)) throw Fault(Vectors.GP, (uint)sel & 0xFFFC);
                    if (!d.Present) throw Fault(Vectors.NP, (uint)sel & 0xFFFC);
                    WriteSys8(DescriptorAddress(sel) + 5, (byte)((raw >> 40) | 2));
                    d.Attributes |= 2;
                    Tr = d;
                    break;
                }
            case Mnemonic.Sldt: RequireProtected(); StoreSelector(in ins, Ldtr.Selector); break;
            case Mnemonic.Str: RequireProtected(); StoreSelector(in ins, Tr.Selector); break;
            case Mnemonic.Smsw:
                if (ins.Op0Kind == OpKind.Register) WriteReg(ins.Op0Register, OpBits(in ins, 0) == 32 ? Cr0 : Cr0 & 0xFFFF);
                else Write16(MemSeg(in ins), EffectiveAddress(in ins), (ushort)Cr0);
                break;
            case Mnemonic.Lmsw:
                {
                    RequireCpl0();
                    uint v = ReadOperand(in ins, 0, 16) & 0xF;
                    // LMSW can set PE but never clear it.
                    SetCr0((Cr0 & ~0xEu) | v | (Cr0 & 1));
                    break;
                }
            case Mnemonic.Clts: RequireCpl0(); Cr0 &= ~ControlBits.CR0_TS; break;
            case Mnemonic.Arpl:
                {
                    RequireProtected();
                    ProbeOperand(in ins, 0, 16);
                    uint dst = ReadOperand(in ins, 0, 16), src = ReadOperand(in ins, 1, 16);
                    if ((dst & 3) < (src & 3))
                    {
                        WriteOperand(in ins, 0, 16, (dst & ~3u) | (src & 3));
                        SetFlag(Flags.ZF, true);
                    }
                    else SetFlag(Flags.ZF, false);
                    break;
                }
            case Mnemonic.Lar: case Mnemonic.Lsl: ExecLarLsl(in ins); break;
            case Mnemonic.Verr: case Mnemonic.Verw: ExecVerify(in ins); break;
            case Mnemonic.Invlpg:
                RequireCpl0();
                InvalidatePage(Seg[MemSeg(in ins)].Base + EffectiveAddress(in ins));
                break;
            case Mnemonic.Invd: case Mnemonic.Wbinvd: RequireCpl0(); break;
            case Mnemonic.Cpuid: Cpuid(); break;
            case Mnemonic.Rdtsc:
                {
                    if ((Cr4 & ControlBits.CR4_TSD) != 0 && (Cpl != 0 || V86Mode) && ProtectedMode) throw Fault(Vectors.GP, 0);
                    ulong t = ReadTsc();
                    R[0] = (uint)t; R[2] = (uint)(t >> 32);
                    break;
                }
            case Mnemonic.Rdpmc:
                if ((Cr4 & ControlBits.CR4_PCE) == 0 && ProtectedMode && (Cpl != 0 || V86Mode)) throw Fault(Vectors.GP, 0);
                if (R[1] > 1) throw Fault(Vectors.GP, 0);
                R[0] = 0; R[2] = 0;
                break;
            case Mnemonic.Rdmsr:
                {
                    RequireCpl0();
                    ulong v = R[1] == MsrTsc ? ReadTsc() : _msrs.TryGetValue(R[1], out var m) ? m
                        : ReadParavirtMsr(R[1], out ulong p) ? p : throw UnknownMsr(write: false, 0);
                    R[0] = (uint)v; R[2] = (uint)(v >> 32);
                    break;
                }
            case Mnemonic.Wrmsr:
                {
                    RequireCpl0();
                    ulong v = (ulong)R[2] << 32 | R[0];
                    if (R[1] == MsrTsc)
                    {
                        ulong old = ReadTsc();
                        WriteTsc(v);
                        PvClockTscWritten(old, v);
                    }
                    else if (_msrs.ContainsKey(R[1])) _msrs[R[1]] = v;
                    else if (!WriteParavirtMsr(R[1], v)) throw UnknownMsr(write: true, v);
                    break;
                }
            case Mnemonic.Sysenter: ExecSysenter(); break;
            case Mnemonic.Sysexit: ExecSysexit(); break;
            default: throw Fault(Vectors.UD);
        }
    }

    private void StoreSelector(in Instruction ins, ushort sel)
    {
        if (ins.Op0Kind == OpKind.Register) WriteReg(ins.Op0Register, sel);
        else Write16(MemSeg(in ins), EffectiveAddress(in ins), sel);
    }

    /// <summary>The descriptor for LAR/LSL/VERR/VERW, or null when the selector is not visible at this privilege.</summary>
    private SegmentRegister? VisibleDescriptor(ushort sel, out ulong raw)
    {
        raw = 0;
        if ((sel & 0xFFFC) == 0) return null;
        uint index = (uint)sel & ~7u;
        uint limit = (sel & 4) != 0 ? (Ldtr.Present ? Ldtr.Limit : 0) : Gdtr.Limit;
        if ((sel & 4) != 0 && !Ldtr.Present) return null;
        if (index + 7 > limit) return null;
        raw = ReadDescriptor(sel);
        var d = ParseDescriptor(sel, raw);
        int rpl = sel & 3;
        if (!(d.IsCode && d.IsConforming && !d.IsSystem) && (d.Dpl < Cpl || d.Dpl < rpl)) return null;
        return d;
    }

    private void ExecLarLsl(in Instruction ins)
    {
        RequireProtected();
        ushort sel = (ushort)ReadOperand(in ins, 1, 16);
        var d = VisibleDescriptor(sel, out ulong raw);
        bool lar = ins.Mnemonic == Mnemonic.Lar;
        bool ok = d is { } v && (!v.IsSystem || (lar ? v.Type is 1 or 2 or 3 or 4 or 5 or 9 or 0xB or 0xC : v.Type is 1 or 2 or 3 or 9 or 0xB));
        if (!ok) { SetFlag(Flags.ZF, false); return; }
        int bits = OpBits(in ins, 0);
        uint value = lar ? (uint)(raw >> 32) & (bits == 32 ? 0x00F0_FF00u : 0xFF00u) : d!.Value.Limit;
        WriteOperand(in ins, 0, bits, bits == 16 ? value & 0xFFFF : value);
        SetFlag(Flags.ZF, true);
    }

    private void ExecVerify(in Instruction ins)
    {
        RequireProtected();
        ushort sel = (ushort)ReadOperand(in ins, 0, 16);
        var d = VisibleDescriptor(sel, out _);
        bool ok = d is { } v && !v.IsSystem && (ins.Mnemonic == Mnemonic.Verr ? v.Readable : v.Writable);
        SetFlag(Flags.ZF, ok);
    }

    private void Cpuid()
    {
        uint leaf = R[0];
        if (Paravirt != ParavirtFeatures.None && ParavirtCpuid(leaf)) return;
        switch (leaf)
        {
            case 0:
                R[0] = 2;
                R[3] = 0x756E_6547; R[2] = 0x4965_6E69; R[1] = 0x6C65_746E; // "GenuineIntel"
                break;
            case 1:
                {
                    // Family 6 model 8 (a Pentium III-class i686 without MMX/SSE exposed).
                    R[0] = 0x0000_0683;
                    R[3] = 0; // EBX: brand 0, CLFLUSH 0, APIC ID 0
                    R[1] = HypervisorPresent ? 1u << 31 : 0; // ECX bit 31: running under a hypervisor (look at 0x40000000)
                    uint edx = 1u << 0  // FPU
                        | 1u << 3       // PSE
                        | 1u << 4       // TSC
                        | 1u << 5       // MSR
                        | 1u << 8       // CX8
                        | 1u << 11      // SEP
                        | 1u << 13      // PGE
                        | 1u << 15;     // CMOV
                    if (HasApic) edx |= 1u << 9;
                    R[2] = edx;
                    break;
                }
            case 2:
                R[0] = 0x0000_0001; R[3] = 0; R[1] = 0; R[2] = 0; // no cache descriptors
                break;
            default:
                // Beyond the maximum basic leaf an Intel CPU returns the highest basic leaf's data.
                R[0] = 0x0000_0001; R[3] = 0; R[1] = 0; R[2] = 0;
                break;
        }
    }

    /// <summary>RDMSR/WRMSR of an MSR this CPU does not have: #GP(0), told to the -d log first.</summary>
    private GuestFault UnknownMsr(bool write, ulong value)
    {
        _eventLog?.UnknownMsr(R[1], write, value);
        return Fault(Vectors.GP, 0);
    }

    private void ExecSysenter()
    {
        ushort cs = (ushort)_msrs[MsrSysenterCs];
        if (!ProtectedMode || (cs & 0xFFFC) == 0) throw Fault(Vectors.GP, 0);
        _flags &= ~(Flags.VM | Flags.IF | Flags.RF);
        Seg[SegmentIndex.CS] = new SegmentRegister { Selector = (ushort)(cs & 0xFFFC), Base = 0, Limit = 0xFFFF_FFFF, Attributes = 0xC09B };
        Seg[SegmentIndex.SS] = new SegmentRegister { Selector = (ushort)((cs + 8) & 0xFFFC), Base = 0, Limit = 0xFFFF_FFFF, Attributes = 0xC093 };
        SetCpl(0);
        ModeChanged();
        R[4] = (uint)_msrs[MsrSysenterEsp];
        _nextEip = (uint)_msrs[MsrSysenterEip];
        _exitBlock = true;
    }

    private void ExecSysexit()
    {
        ushort cs = (ushort)_msrs[MsrSysenterCs];
        if (!ProtectedMode || V86Mode || Cpl != 0 || (cs & 0xFFFC) == 0) throw Fault(Vectors.GP, 0);
        Seg[SegmentIndex.CS] = new SegmentRegister { Selector = (ushort)((cs + 16) | 3), Base = 0, Limit = 0xFFFF_FFFF, Attributes = 0xC0FB };
        Seg[SegmentIndex.SS] = new SegmentRegister { Selector = (ushort)((cs + 24) | 3), Base = 0, Limit = 0xFFFF_FFFF, Attributes = 0xC0F3 };
        SetCpl(3);
        ModeChanged();
        R[4] = R[1];
        _nextEip = R[2];
        _exitBlock = true;
    }
}
