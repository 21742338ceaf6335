using System.Numerics;
using System.Runtime.CompilerServices;
using Virt.Cpu.Execution;
using Virt.Cpu.State;

namespace Virt.Cpu;

// Lazy arithmetic flags: ALU instructions record (op, a, b, result, size); a flag is computed only
// when something reads it. AF after logic ops is defined as 0, as the host CPU does.
public sealed partial class Cpu
{
    private uint _flags;      // every EFLAGS bit; the six arithmetic bits are stale while _lfOp != None
    private LazyOp _lfOp;
    private uint _lfA, _lfB, _lfRes;
    private uint _lfMask;     // 0xFF, 0xFFFF or 0xFFFFFFFF: the operand size

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetLazy(LazyOp op, uint a, uint b, uint res, int bits)
    {
        _lfOp = op; _lfA = a; _lfB = b; _lfRes = res; _lfMask = SizeMask(bits);
    }

    private uint LazySign => _lfMask ^ (_lfMask >> 1);

    /// <summary>The 32-bit form of <see cref="SetLazy"/>, for the specialised ALU handlers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetLazy32(LazyOp op, uint a, uint b, uint res)
    {
        _lfOp = op; _lfA = a; _lfB = b; _lfRes = res; _lfMask = 0xFFFF_FFFFu;
    }

    /// <summary>INC/DEC keep CF: freeze it into the EFLAGS word before recording the new op.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetLazyIncDec(LazyOp op, uint a, uint res, int bits)
    {
        if (_lfOp == LazyOp.Logic) _flags &= ~Flags.CF; // logic ops leave CF clear
        else if (_lfOp is not (LazyOp.None or LazyOp.Inc or LazyOp.Dec)) _flags = (_flags & ~Flags.CF) | (LazyCF() ? Flags.CF : 0);
        _lfOp = op; _lfA = a; _lfB = 1; _lfRes = res; _lfMask = SizeMask(bits);
    }

    private bool LazyCF()
    {
        uint m = _lfMask;
        uint a = _lfA & m, b = _lfB & m, r = _lfRes & m;
        return _lfOp switch
        {
            LazyOp.Add => r < a,
            LazyOp.Adc => r <= a,
            LazyOp.Sub => a < b,
            LazyOp.Sbb => a <= b,
            LazyOp.Logic => false,
            _ => (_flags & Flags.CF) != 0,
        };
    }

    private bool LazyOF()
    {
        uint sign = LazySign;
        uint a = _lfA, b = _lfB, r = _lfRes;
        return _lfOp switch
        {
            LazyOp.Add or LazyOp.Adc => ((a ^ r) & (b ^ r) & sign) != 0,
            LazyOp.Sub or LazyOp.Sbb => ((a ^ b) & (a ^ r) & sign) != 0,
            LazyOp.Inc => (r & _lfMask) == sign,
            LazyOp.Dec => (r & _lfMask) == sign - 1,
            _ => false,
        };
    }

    private bool LazyAF() => _lfOp switch
    {
        LazyOp.Logic => false,
        _ => ((_lfA ^ _lfB ^ _lfRes) & 0x10) != 0,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool GetCF() => _lfOp == LazyOp.None ? (_flags & Flags.CF) != 0 : LazyCF();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool GetZF() => _lfOp == LazyOp.None ? (_flags & Flags.ZF) != 0 : (_lfRes & _lfMask) == 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool GetSF() => _lfOp == LazyOp.None ? (_flags & Flags.SF) != 0 : (_lfRes & LazySign) != 0;

    internal bool GetOF() => _lfOp == LazyOp.None ? (_flags & Flags.OF) != 0 : LazyOF();

    internal bool GetPF() => _lfOp == LazyOp.None ? (_flags & Flags.PF) != 0 : (BitOperations.PopCount(_lfRes & 0xFF) & 1) == 0;

    internal bool GetAF() => _lfOp == LazyOp.None ? (_flags & Flags.AF) != 0 : LazyAF();

    /// <summary>EFLAGS with the arithmetic flags materialised.</summary>
    internal uint GetEflags()
    {
        if (_lfOp != LazyOp.None)
        {
            uint f = _flags & ~Flags.Arith;
            if (LazyCF()) f |= Flags.CF;
            if ((BitOperations.PopCount(_lfRes & 0xFF) & 1) == 0) f |= Flags.PF;
            if (LazyAF()) f |= Flags.AF;
            if ((_lfRes & _lfMask) == 0) f |= Flags.ZF;
            if ((_lfRes & LazySign) != 0) f |= Flags.SF;
            if (LazyOF()) f |= Flags.OF;
            _flags = f;
            _lfOp = LazyOp.None;
        }
        return _flags;
    }

    /// <summary>Replaces EFLAGS wholesale (reserved bit 1 forced on, reserved bits forced off).</summary>
    internal void SetEflags(uint value)
    {
        uint old = _flags;
        _flags = (value & Flags.Writable) | Flags.Reserved1;
        _lfOp = LazyOp.None;
        if (((old ^ _flags) & Flags.VM) != 0) ModeChanged();
    }

    /// <summary>Sets the arithmetic flags from a computed mask, leaving the others alone.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetArithFlags(uint arith)
    {
        if (_lfOp != LazyOp.None) { GetEflags(); }
        _flags = (_flags & ~Flags.Arith) | (arith & Flags.Arith);
    }

    internal void SetFlag(uint bit, bool on)
    {
        GetEflags();
        _flags = on ? _flags | bit : _flags & ~bit;
    }

    /// <summary>Flags for a result computed eagerly: ZF, SF, PF from the value; CF, OF, AF as given.</summary>
    internal void SetSzpFlags(uint res, int bits, bool cf, bool of, bool af = false)
    {
        uint f = 0;
        if (cf) f |= Flags.CF;
        if (of) f |= Flags.OF;
        if (af) f |= Flags.AF;
        if ((res & SizeMask(bits)) == 0) f |= Flags.ZF;
        if ((res & (1u << (bits - 1))) != 0) f |= Flags.SF;
        if ((BitOperations.PopCount(res & 0xFF) & 1) == 0) f |= Flags.PF;
        SetArithFlags(f);
    }

    /// <summary>Evaluates condition code cc (0-15, the low nibble of Jcc/SETcc/CMOVcc opcodes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool Condition(int cc)
    {
        // The common case, a branch on a CMP/SUB or a logic op, reads the operands directly
        // instead of building flags (QEMU's cc_op specialisation).
        if (_lfOp == LazyOp.Sub && _lfMask == 0xFFFF_FFFFu) return ConditionAfterSub32(cc, _lfA, _lfB);
        // JE/JNE after any lazily recorded op: ZF straight from the result.
        if ((cc >> 1) == 2 && _lfOp != LazyOp.None) return ((_lfRes & _lfMask) == 0) != ((cc & 1) != 0);
        return ConditionSlow(cc);
    }

    private static bool ConditionAfterSub32(int cc, uint a, uint b)
    {
        bool r = (cc >> 1) switch
        {
            0 => (((a ^ b) & (a ^ (a - b))) >> 31) != 0,
            1 => a < b,
            2 => a == b,
            3 => a <= b,
            4 => (int)(a - b) < 0,
            5 => (BitOperations.PopCount((a - b) & 0xFF) & 1) == 0,
            6 => (int)a < (int)b,
            _ => (int)a <= (int)b,
        };
        return (cc & 1) != 0 ? !r : r;
    }

    private bool ConditionSlow(int cc)
    {
        bool r;
        switch (cc >> 1)
        {
            case 0: r = GetOF(); break;
            case 1: r = GetCF(); break;
            case 2: r = GetZF(); break;
            case 3: r = GetCF() || GetZF(); break;
            case 4: r = GetSF(); break;
            case 5: r = GetPF(); break;
            case 6: r = GetSF() != GetOF(); break;
            default: r = GetZF() || GetSF() != GetOF(); break;
        }
        return (cc & 1) != 0 ? !r : r;
    }
}
