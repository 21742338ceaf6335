using System.Numerics;
using System.Runtime.CompilerServices;
using Virt.Cpu.Execution;
using Virt.Cpu.State;

namespace Virt.Cpu;

// Integer arithmetic shared by the fast handlers and the generic executor. Results are computed
// first and flags recorded after, so a read-modify-write whose store faults leaves the flags (and
// an ADC/SBB carry-in) as they were.
public sealed partial class Cpu
{
    /// <summary>
    /// ALU operation 0-8 (add, or, adc, sbb, and, sub, xor, cmp, test): result and lazy flags in
    /// one switch, the interpreter's most frequent call.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint Alu(int op, uint a, uint b, int bits)
    {
        uint res;
        LazyOp kind;
        switch (op)
        {
            case 0: res = a + b; kind = LazyOp.Add; break;
            case 1: res = a | b; kind = LazyOp.Logic; break;
            case 2:
                if (GetCF()) { res = a + b + 1; kind = LazyOp.Adc; }
                else { res = a + b; kind = LazyOp.Add; }
                break;
            case 3:
                if (GetCF()) { res = a - b - 1; kind = LazyOp.Sbb; }
                else { res = a - b; kind = LazyOp.Sub; }
                break;
            case 4: case 8: res = a & b; kind = LazyOp.Logic; break;
            case 6: res = a ^ b; kind = LazyOp.Logic; break;
            default: res = a - b; kind = LazyOp.Sub; break; // 5 sub, 7 cmp
        }
        SetLazy(kind, a, b, res, bits);
        return res;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint SizeMask(int bits) => bits == 32 ? 0xFFFF_FFFFu : (1u << bits) - 1;

    /// <summary>
    /// Shifts and rotates (kind = the ModRM reg field: 0 rol 1 ror 2 rcl 3 rcr 4 shl 5 shr 6 sal 7 sar).
    /// The count is already masked to 5 bits by the caller; a zero count changes nothing.
    /// </summary>
    internal uint Shift(int kind, uint a, uint count, int bits)
    {
        uint mask = SizeMask(bits);
        uint msb = 1u << (bits - 1);
        a &= mask;
        if (count == 0) return a;
        uint res;
        bool cf, of;
        switch (kind)
        {
            case 0: // ROL
                {
                    int c = (int)(count % (uint)bits);
                    res = c == 0 ? a : ((a << c) | (a >> (bits - c))) & mask;
                    cf = (res & 1) != 0;
                    of = ((res & msb) != 0) ^ cf;
                    SetCfOf(cf, of);
                    return res;
                }
            case 1: // ROR
                {
                    int c = (int)(count % (uint)bits);
                    res = c == 0 ? a : ((a >> c) | (a << (bits - c))) & mask;
                    cf = (res & msb) != 0;
                    of = ((res & msb) != 0) ^ ((res & (msb >> 1)) != 0);
                    SetCfOf(cf, of);
                    return res;
                }
            case 2: // RCL: rotate through carry, a (bits+1)-bit rotation
                {
                    int c = (int)(count % (uint)(bits + 1));
                    ulong wide = a | (GetCF() ? (ulong)1 << bits : 0);
                    if (c != 0) wide = ((wide << c) | (wide >> (bits + 1 - c))) & ((1UL << (bits + 1)) - 1);
                    res = (uint)(wide & mask);
                    cf = ((wide >> bits) & 1) != 0;
                    of = ((res & msb) != 0) ^ cf;
                    SetCfOf(cf, of);
                    return res;
                }
            case 3: // RCR
                {
                    int c = (int)(count % (uint)(bits + 1));
                    bool oldCf = GetCF();
                    ulong wide = a | (oldCf ? (ulong)1 << bits : 0);
                    if (c != 0) wide = ((wide >> c) | (wide << (bits + 1 - c))) & ((1UL << (bits + 1)) - 1);
                    res = (uint)(wide & mask);
                    cf = ((wide >> bits) & 1) != 0;
                    of = ((res & msb) != 0) ^ ((res & (msb >> 1)) != 0);
                    SetCfOf(cf, of);
                    return res;
                }
            case 4:
            case 6: // SHL/SAL
                {
                    ulong wide = (ulong)a << (int)count;
                    res = (uint)wide & mask;
                    cf = ((wide >> bits) & 1) != 0;
                    of = ((res & msb) != 0) ^ cf;
                    break;
                }
            case 5: // SHR
                {
                    res = count >= 32 ? 0 : a >> (int)count;
                    cf = count <= 32 && ((a >> (int)(count - 1)) & 1) != 0;
                    of = count == 1 && (a & msb) != 0;
                    break;
                }
            default: // SAR
                {
                    long sa = bits == 32 ? (int)a : bits == 16 ? (short)a : (sbyte)a;
                    int c = (int)Math.Min(count, 63u);
                    res = (uint)(sa >> c) & mask;
                    cf = ((sa >> (c - 1)) & 1) != 0;
                    of = false;
                    break;
                }
        }
        SetSzpFlags(res, bits, cf, of);
        return res;
    }

    private void SetCfOf(bool cf, bool of)
    {
        uint f = GetEflags() & ~(Flags.CF | Flags.OF);
        if (cf) f |= Flags.CF;
        if (of) f |= Flags.OF;
        _flags = f;
    }

    /// <summary>SHLD/SHRD: shift dst, filling from src. count already masked to 5 bits.</summary>
    internal uint DoubleShift(bool left, uint dst, uint src, uint count, int bits)
    {
        if (count == 0) return dst;
        uint mask = SizeMask(bits);
        dst &= mask; src &= mask;
        uint res;
        bool cf;
        if (bits == 16 && count > 16)
        {
            // Undefined on Intel; follow the common 32-bit rotation of dst:src:dst.
            ulong w = left ? ((ulong)dst << 32) | ((ulong)src << 16) | dst : ((ulong)dst << 32) | ((ulong)src << 16) | dst;
            if (left) { res = (uint)((w << (int)count) >> 32) & mask; cf = ((w >> (int)(48 - count)) & 1) != 0; }
            else { ulong v = ((ulong)dst << 32) | ((ulong)src << 16) | dst; res = (uint)(v >> (int)count) & mask; cf = ((v >> (int)(count - 1)) & 1) != 0; }
        }
        else if (left)
        {
            ulong w = ((ulong)dst << bits) | src;
            res = (uint)((w << (int)count) >> bits) & mask;
            cf = ((dst >> (bits - (int)count)) & 1) != 0;
        }
        else
        {
            ulong w = ((ulong)src << bits) | dst;
            res = (uint)(w >> (int)count) & mask;
            cf = ((dst >> (int)(count - 1)) & 1) != 0;
        }
        uint msb = 1u << (bits - 1);
        bool of = ((res ^ dst) & msb) != 0;
        SetSzpFlags(res, bits, cf, of);
        return res;
    }

    /// <summary>MUL/IMUL one-operand forms: the accumulator times src into (E)DX:(E)AX or AX.</summary>
    internal void MulAcc(uint src, int bits, bool signed)
    {
        switch (bits)
        {
            case 8:
                {
                    uint al = R[0] & 0xFF;
                    uint res = signed ? (uint)((sbyte)al * (sbyte)src) & 0xFFFF : al * (src & 0xFF);
                    SetReg16(0, (ushort)res);
                    bool ov = signed ? (short)(ushort)res != (sbyte)res : (res >> 8) != 0;
                    SetSzpFlags(res, 8, ov, ov);
                    break;
                }
            case 16:
                {
                    uint ax = R[0] & 0xFFFF;
                    uint res = signed ? (uint)((short)ax * (short)src) : ax * (src & 0xFFFF);
                    SetReg16(0, (ushort)res);
                    SetReg16(2, (ushort)(res >> 16));
                    bool ov = signed ? (int)res != (short)res : (res >> 16) != 0;
                    SetSzpFlags(res, 16, ov, ov);
                    break;
                }
            default:
                {
                    ulong res = signed ? (ulong)((long)(int)R[0] * (int)src) : (ulong)R[0] * src;
                    R[0] = (uint)res;
                    R[2] = (uint)(res >> 32);
                    bool ov = signed ? (long)res != (int)res : (res >> 32) != 0;
                    SetSzpFlags((uint)res, 32, ov, ov);
                    break;
                }
        }
    }

    /// <summary>IMUL two- and three-operand forms: a * b truncated to bits, CF=OF=overflow.</summary>
    internal uint IMul(uint a, uint b, int bits)
    {
        long full = bits switch { 8 => (sbyte)a * (long)(sbyte)b, 16 => (short)a * (long)(short)b, _ => (int)a * (long)(int)b };
        uint res = (uint)full & SizeMask(bits);
        long back = bits switch { 8 => (sbyte)res, 16 => (short)res, _ => (int)res };
        bool ov = back != full;
        SetSzpFlags(res, bits, ov, ov);
        return res;
    }

    /// <summary>DIV/IDIV: (E)DX:(E)AX or AX divided by src; #DE on zero or overflow.</summary>
    internal void DivAcc(uint src, int bits, bool signed)
    {
        src &= SizeMask(bits);
        if (src == 0) throw Fault(Vectors.DE);
        switch (bits)
        {
            case 8:
                {
                    uint ax = R[0] & 0xFFFF;
                    if (signed)
                    {
                        int q = (short)ax / (sbyte)src, rem = (short)ax % (sbyte)src;
                        if (q != (sbyte)q) throw Fault(Vectors.DE);
                        SetReg16(0, (ushort)(((uint)rem & 0xFF) << 8 | ((uint)q & 0xFF)));
                    }
                    else
                    {
                        uint q = ax / src, rem = ax % src;
                        if (q > 0xFF) throw Fault(Vectors.DE);
                        SetReg16(0, (ushort)(rem << 8 | q));
                    }
                    break;
                }
            case 16:
                {
                    uint num = (R[2] & 0xFFFF) << 16 | (R[0] & 0xFFFF);
                    if (signed)
                    {
                        int q = (int)num / (short)src, rem = (int)num % (short)src;
                        if ((int)num == int.MinValue && (short)src == -1) throw Fault(Vectors.DE);
                        if (q != (short)q) throw Fault(Vectors.DE);
                        SetReg16(0, (ushort)q); SetReg16(2, (ushort)rem);
                    }
                    else
                    {
                        uint q = num / src, rem = num % src;
                        if (q > 0xFFFF) throw Fault(Vectors.DE);
                        SetReg16(0, (ushort)q); SetReg16(2, (ushort)rem);
                    }
                    break;
                }
            default:
                {
                    ulong num = (ulong)R[2] << 32 | R[0];
                    if (signed)
                    {
                        long n = (long)num, d = (int)src;
                        if (n == long.MinValue && d == -1) throw Fault(Vectors.DE);
                        long q = n / d, rem = n % d;
                        if (q != (int)q) throw Fault(Vectors.DE);
                        R[0] = (uint)q; R[2] = (uint)rem;
                    }
                    else
                    {
                        ulong q = num / src, rem = num % src;
                        if (q > 0xFFFF_FFFF) throw Fault(Vectors.DE);
                        R[0] = (uint)q; R[2] = (uint)rem;
                    }
                    break;
                }
        }
    }

    /// <summary>INC/DEC of any size (CF kept).</summary>
    internal uint IncDec(uint a, bool dec, int bits)
    {
        uint res = dec ? a - 1 : a + 1;
        SetLazyIncDec(dec ? LazyOp.Dec : LazyOp.Inc, a, res, bits);
        return res & SizeMask(bits);
    }

    /// <summary>NEG: 0 - a, CF = (a != 0).</summary>
    internal uint Neg(uint a, int bits)
    {
        uint res = 0 - a;
        SetLazy(LazyOp.Sub, 0, a, res, bits);
        return res & SizeMask(bits);
    }

    // ---- BCD adjustments (i686 semantics; the 286's AAA/AAS differ and the vector runner says so) ----

    internal void Daa()
    {
        uint al = R[0] & 0xFF;
        bool cf = GetCF(), af = GetAF();
        bool newCf = false, newAf = false;
        uint res = al;
        if ((al & 0xF) > 9 || af) { res = (res + 6) & 0xFF; newCf = cf || al > 0xF9; newAf = true; }
        if (al > 0x99 || cf) { res = (res + 0x60) & 0xFF; newCf = true; }
        SetReg8(0, (byte)res);
        SetSzpFlags(res, 8, newCf, false, newAf);
    }

    internal void Das()
    {
        uint al = R[0] & 0xFF;
        bool cf = GetCF(), af = GetAF();
        bool newCf = false, newAf = false;
        uint res = al;
        if ((al & 0xF) > 9 || af) { newCf = cf || al < 6; res = (res - 6) & 0xFF; newAf = true; }
        if (al > 0x99 || cf) { res = (res - 0x60) & 0xFF; newCf = true; }
        SetReg8(0, (byte)res);
        SetSzpFlags(res, 8, newCf, false, newAf);
    }

    internal void Aaa(bool sub)
    {
        uint ax = R[0] & 0xFFFF;
        bool adjust = (ax & 0xF) > 9 || GetAF();
        // SDM: AAA adds 106h to AX; AAS subtracts 6 from AX (AL's borrow reaches AH) and then 1 from AH.
        if (adjust) ax = sub ? (ax - 6 - 0x100) & 0xFFFF : ax + 0x106;
        ax = (ax & 0xFF0F) & 0xFFFF;
        SetReg16(0, (ushort)ax);
        SetSzpFlags(ax & 0xFF, 8, adjust, false, adjust);
    }

    internal void Aam(uint imm)
    {
        if ((imm & 0xFF) == 0) throw Fault(Vectors.DE);
        uint al = R[0] & 0xFF;
        uint res = (al / imm) << 8 | (al % imm);
        SetReg16(0, (ushort)res);
        SetSzpFlags(res & 0xFF, 8, false, false);
    }

    internal void Aad(uint imm)
    {
        uint al = R[0] & 0xFF, ah = (R[0] >> 8) & 0xFF;
        uint res = (al + ah * (imm & 0xFF)) & 0xFF;
        SetReg16(0, (ushort)res);
        SetSzpFlags(res, 8, false, false);
    }

    internal static int Parity(uint v) => BitOperations.PopCount(v & 0xFF) & 1;
}
