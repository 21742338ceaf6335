using Iced.Intel;

namespace Virt.Cpu.Fpu;

public sealed partial class X87Fpu
{
    private void LoadMemory(in Instruction ins, IX87Memory memory)
    {
        var c = NewContext();
        var value = LoadOperand(ins, memory, ref c, forLoad: true);
        ClearC1();
        if (PushWouldOverflow)
        {
            StackOverflow();
            return;
        }

        // Measured on Intel: an unmasked denormal-operand exception still loads the value (only IE suppresses).
        var (status, _) = ExceptionOutcome(c with { Masks = c.Masks | X87ExceptionFlags.Denormal }, isStore: false);
        var discard = (c.Flags & X87ExceptionFlags.Invalid) != 0 && !InvalidMasked;
        _status = WithSummary(status);
        if (!discard)
        {
            Push(value);
        }
    }

    private void LoadRegister(int source)
    {
        ClearC1();
        if (PushWouldOverflow)
        {
            StackOverflow();
            return;
        }

        var value = St(source);
        if (IsEmpty(source))
        {
            if (!StackUnderflow())
            {
                return;
            }

            value = Float80.Indefinite;
        }

        Push(value);
    }

    /// <summary>Constants are stored rounded to nearest; <paramref name="adjust"/> moves them one ulp for the RC the hardware honours.</summary>
    private void LoadConstant(Float80 constant, int adjust)
    {
        ClearC1();
        if (PushWouldOverflow)
        {
            StackOverflow();
            return;
        }

        Push(new Float80(constant.SignExponent, (ulong)((long)constant.Significand + adjust)));
    }

    private void StoreRegister(int destination, bool pop)
    {
        ClearC1();
        if (IsEmpty(0))
        {
            if (StackUnderflow())
            {
                SetSt(destination, Float80.Indefinite);
                if (pop)
                {
                    Pop();
                }
            }

            return;
        }

        SetSt(destination, St(0));
        if (pop)
        {
            Pop();
        }
    }

    /// <summary>FST/FSTP/FIST/FISTP/FISTTP/FBSTP to memory: memory is written before any state changes.</summary>
    private void StoreMemory(in Instruction ins, IX87Memory memory, bool pop, bool truncate)
    {
        var size = ins.MemorySize;
        var saved = _status;
        _status &= unchecked((ushort)~StatusC1);
        ushort status;
        var discard = false;
        if (IsEmpty(0))
        {
            status = StackFaultStatus(false);
            _status = saved;
            if (InvalidMasked)
            {
                WriteIndefinite(memory, size);
            }
            else
            {
                discard = true;
            }
        }
        else
        {
            var c = NewContext();
            var value = St(0);
            Span<byte> bcd = stackalloc byte[PackedBcd.Size];
            ulong bits = 0;
            switch (size)
            {
                case MemorySize.Float32:
                    bits = SoftFloat80.ToFloat32(ref c, value);
                    break;
                case MemorySize.Float64:
                    bits = SoftFloat80.ToFloat64(ref c, value);
                    break;
                case MemorySize.Float80:
                    break;
                case MemorySize.Int16:
                    bits = (ulong)SoftFloat80.ToInt(ref c, value, 16, truncate);
                    break;
                case MemorySize.Int32:
                    bits = (ulong)SoftFloat80.ToInt(ref c, value, 32, truncate);
                    break;
                case MemorySize.Int64:
                    bits = (ulong)SoftFloat80.ToInt(ref c, value, 64, truncate);
                    break;
                case MemorySize.Bcd:
                    PackedBcd.FromFloat80(ref c, value, bcd);
                    break;
                default:
                    throw new InvalidOperationException($"{ins.Code}: unexpected x87 memory operand size {size}");
            }

            (status, discard) = ExceptionOutcome(c, isStore: true);
            _status = saved;
            if (!discard)
            {
                switch (size)
                {
                    case MemorySize.Float32 or MemorySize.Int32:
                        memory.Write32(0, (uint)bits);
                        break;
                    case MemorySize.Float64 or MemorySize.Int64:
                        memory.Write64(0, bits);
                        break;
                    case MemorySize.Int16:
                        memory.Write16(0, (ushort)bits);
                        break;
                    case MemorySize.Float80:
                        memory.Write64(0, value.Significand);
                        memory.Write16(8, value.SignExponent);
                        break;
                    default:
                        WriteBytes(memory, bcd);
                        break;
                }
            }
        }

        _status = status;
        if (pop && !discard)
        {
            Pop();
        }
    }

    private static void WriteIndefinite(IX87Memory memory, MemorySize size)
    {
        switch (size)
        {
            case MemorySize.Float32:
                memory.Write32(0, 0xFFC0_0000);
                break;
            case MemorySize.Float64:
                memory.Write64(0, 0xFFF8_0000_0000_0000);
                break;
            case MemorySize.Float80:
                memory.Write64(0, Float80.Indefinite.Significand);
                memory.Write16(8, Float80.Indefinite.SignExponent);
                break;
            case MemorySize.Int16:
                memory.Write16(0, 0x8000);
                break;
            case MemorySize.Int32:
                memory.Write32(0, 0x8000_0000);
                break;
            case MemorySize.Int64:
                memory.Write64(0, 0x8000_0000_0000_0000);
                break;
            default:
                Span<byte> bcd = stackalloc byte[PackedBcd.Size];
                PackedBcd.WriteIndefinite(bcd);
                WriteBytes(memory, bcd);
                break;
        }
    }

    private static void WriteBytes(IX87Memory memory, ReadOnlySpan<byte> bytes)
    {
        for (var i = 0; i < bytes.Length; i++)
        {
            memory.Write8((uint)i, bytes[i]);
        }
    }

    private void Exchange(int other)
    {
        ClearC1();
        var empty0 = IsEmpty(0);
        var emptyOther = IsEmpty(other);
        if (empty0 || emptyOther)
        {
            if (!StackUnderflow())
            {
                return;
            }

            if (empty0)
            {
                SetSt(0, Float80.Indefinite);
            }

            if (emptyOther)
            {
                SetSt(other, Float80.Indefinite);
            }
        }

        var value = St(0);
        SetSt(0, St(other));
        SetSt(other, value);
    }
}
