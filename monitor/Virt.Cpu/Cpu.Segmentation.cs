using System.Runtime.CompilerServices;
using Virt.Cpu.Execution;
using Virt.Cpu.State;

namespace Virt.Cpu;

// Segment-relative memory access: limit and type checks, then the linear accessors of the MMU.
// For each segment register two flags say whether reads or writes need any check at all; for a
// flat 4 GiB read/write segment (what 32-bit kernels use) they are false and the check vanishes.
public sealed partial class Cpu
{
    private readonly bool[] _segCheckRead = new bool[6];
    private readonly bool[] _segCheckWrite = new bool[6];

    // CS's base and code size, copied out of the descriptor cache for the block lookup.
    private uint _csBase;
    private bool _code32;

    /// <summary>Recomputes the fast-path flags of one segment register after it changed.</summary>
    internal void SegmentChanged(int i)
    {
        ref SegmentRegister s = ref Seg[i];
        bool realLike = !ProtectedMode || V86Mode;
        bool flat = s.Limit == 0xFFFF_FFFF && !s.IsExpandDown && (realLike || s.Present);
        _segCheckRead[i] = !(flat && (realLike || s.Readable));
        _segCheckWrite[i] = !(flat && (realLike || s.Writable));
        if (i == SegmentIndex.CS) { _csBase = s.Base; _code32 = s.Big; }
        UpdateFastSegMask();
    }

    /// <summary>Everything that depends on the mode (PE, VM, CPL) is recomputed here.</summary>
    internal void ModeChanged()
    {
        for (int i = 0; i < 6; i++) SegmentChanged(i);
        SelectTlb();
        // No jump cache is emptied: both key their entries by privilege (the one thing a hit leaves
        // unchecked that a mode change alters), the interpreter's checks the code size on a hit, and
        // native code runs only in flat protected mode, checked at every entry.
    }

    private void CheckSegment(int seg, uint off, int size, bool write)
    {
        ref SegmentRegister s = ref Seg[seg];
        bool realLike = !ProtectedMode || V86Mode;
        if (!realLike)
        {
            if (!s.Present) throw SegFault(seg);
            if (write ? !s.Writable : !s.Readable) throw SegFault(seg);
        }
        uint last = off + (uint)(size - 1);
        if (s.IsExpandDown && !realLike)
        {
            uint upper = s.Big ? 0xFFFF_FFFFu : 0xFFFFu;
            if (off <= s.Limit || last > upper || last < off) throw SegFault(seg);
        }
        else if (last > s.Limit || last < off)
        {
            throw SegFault(seg);
        }
    }

    private GuestFault SegFault(int seg) => Fault(seg == SegmentIndex.SS ? Vectors.SS : Vectors.GP, 0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal byte Read8(int seg, uint off)
    {
        if (_segCheckRead[seg]) CheckSegment(seg, off, 1, false);
        return ReadLin8(Seg[seg].Base + off);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ushort Read16(int seg, uint off)
    {
        if (_segCheckRead[seg]) CheckSegment(seg, off, 2, false);
        return ReadLin16(Seg[seg].Base + off);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint Read32(int seg, uint off)
    {
        if (_segCheckRead[seg]) CheckSegment(seg, off, 4, false);
        return ReadLin32(Seg[seg].Base + off);
    }

    internal ulong Read64(int seg, uint off)
    {
        if (_segCheckRead[seg]) CheckSegment(seg, off, 8, false);
        uint la = Seg[seg].Base + off;
        return ReadLin32(la) | ((ulong)ReadLin32(la + 4) << 32);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write8(int seg, uint off, byte v)
    {
        if (_segCheckWrite[seg]) CheckSegment(seg, off, 1, true);
        WriteLin8(Seg[seg].Base + off, v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write16(int seg, uint off, ushort v)
    {
        if (_segCheckWrite[seg]) CheckSegment(seg, off, 2, true);
        WriteLin16(Seg[seg].Base + off, v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Write32(int seg, uint off, uint v)
    {
        if (_segCheckWrite[seg]) CheckSegment(seg, off, 4, true);
        WriteLin32(Seg[seg].Base + off, v);
    }

    internal void Write64(int seg, uint off, ulong v)
    {
        if (_segCheckWrite[seg]) CheckSegment(seg, off, 8, true);
        uint la = Seg[seg].Base + off;
        // Probe both halves before writing either, so a fault leaves memory untouched.
        if ((la & 0xFFF) > 0xFF8) { TlbFill(la, true, Cpl == 3); TlbFill(la + 4, true, Cpl == 3); }
        WriteLin32(la, (uint)v);
        WriteLin32(la + 4, (uint)(v >> 32));
    }

    /// <summary>Checks that a write of size bytes at seg:off would succeed, without writing (probe before multi-part stores).</summary>
    internal void ProbeWrite(int seg, uint off, int size)
    {
        if (_segCheckWrite[seg]) CheckSegment(seg, off, size, true);
        uint la = Seg[seg].Base + off;
        ref var e = ref _tlbW[(la >> 12) & TlbMask];
        if (e.Tag != la >> 12) TlbFill(la, true, Cpl == 3);
        if ((la & 0xFFF) + (uint)size > 0x1000) TlbFill((la | 0xFFF) + 1, true, Cpl == 3);
    }

    // ---- The stack: SS.B selects ESP or SP. ----

    internal bool Stack32 => Seg[SegmentIndex.SS].Big;

    internal uint StackMask => Stack32 ? 0xFFFF_FFFFu : 0xFFFFu;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetSp(uint sp)
    {
        if (Stack32) R[4] = sp;
        else R[4] = (R[4] & 0xFFFF_0000) | (sp & 0xFFFF);
    }

    internal void Push32(uint v)
    {
        uint sp = (R[4] - 4) & StackMask;
        Write32(SegmentIndex.SS, sp, v);
        SetSp(sp);
    }

    internal void Push16(ushort v)
    {
        uint sp = (R[4] - 2) & StackMask;
        Write16(SegmentIndex.SS, sp, v);
        SetSp(sp);
    }

    internal void Push(uint v, int size)
    {
        if (size == 4) Push32(v); else Push16((ushort)v);
    }

    internal uint Pop32()
    {
        uint sp = R[4] & StackMask;
        uint v = Read32(SegmentIndex.SS, sp);
        SetSp(sp + 4);
        return v;
    }

    internal ushort Pop16()
    {
        uint sp = R[4] & StackMask;
        ushort v = Read16(SegmentIndex.SS, sp);
        SetSp(sp + 2);
        return v;
    }

    internal uint Pop(int size) => size == 4 ? Pop32() : Pop16();

    /// <summary>Reads the stack at ESP + offset without popping (instructions that must not change ESP before they can fault).</summary>
    internal uint PeekStack(uint offset, int size)
    {
        uint sp = (R[4] + offset) & StackMask;
        return size == 4 ? Read32(SegmentIndex.SS, sp) : Read16(SegmentIndex.SS, sp);
    }

    /// <summary>
    /// Checks that <paramref name="count"/> pushes of <paramref name="size"/> bytes would succeed, before
    /// the first is made. Each push is its own access and a 16-bit SP wraps within the segment
    /// between them (a real-mode frame at SP 4 lands at 2, 0 and FFFE): probing the frame as one
    /// block would fault where the CPU does not, so each slot is probed on its own.
    /// </summary>
    internal void ProbePushes(int count, int size)
    {
        for (int i = 1; i <= count; i++) ProbeWrite(SegmentIndex.SS, (R[4] - (uint)(i * size)) & StackMask, size);
    }

    internal void AdjustSp(int delta) => SetSp((R[4] + (uint)delta) & StackMask);
}
