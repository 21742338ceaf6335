using Iced.Intel;

namespace Virt.Cpu.Fpu;

public sealed partial class X87Fpu
{
    private enum ArithmeticOperation
    {
        Add,
        Subtract,
        SubtractReversed,
        Multiply,
        Divide,
        DivideReversed,
    }

    private enum UnaryOperation
    {
        SquareRoot,
        RoundToInteger,
        TwoToXMinusOne,
    }

    private enum PopOperation
    {
        Fyl2x,
        Fyl2xp1,
        Fpatan,
    }

    /// <summary>
    /// Reads and converts a memory source operand; a denormal m32/m64 raises DE in <paramref name="c"/>.
    /// SNaNs stay signaling for operations (<paramref name="forLoad"/> false) and are quieted with IE for FLD.
    /// </summary>
    private static Float80 LoadOperand(in Instruction ins, IX87Memory memory, ref FloatContext c, bool forLoad = false) => ins.MemorySize switch
    {
        MemorySize.Float32 => SoftFloat80.FromFloat32(ref c, memory.Read32(0), forLoad),
        MemorySize.Float64 => SoftFloat80.FromFloat64(ref c, memory.Read64(0), forLoad),
        MemorySize.Float80 => ReadFloat80(memory, 0),
        MemorySize.Int16 => SoftFloat80.FromInt64((short)memory.Read16(0)),
        MemorySize.Int32 => SoftFloat80.FromInt64((int)memory.Read32(0)),
        MemorySize.Int64 => SoftFloat80.FromInt64((long)memory.Read64(0)),
        MemorySize.Bcd => ReadBcd(memory),
        _ => throw new InvalidOperationException($"{ins.Code}: unexpected x87 memory operand size {ins.MemorySize}"),
    };

    private static Float80 ReadFloat80(IX87Memory memory, uint offset)
    {
        var significand = memory.Read64(offset);
        return new Float80(memory.Read16(offset + 8), significand);
    }

    private static Float80 ReadBcd(IX87Memory memory)
    {
        Span<byte> bcd = stackalloc byte[PackedBcd.Size];
        for (var i = 0; i < PackedBcd.Size; i++)
        {
            bcd[i] = memory.Read8((uint)i);
        }

        return PackedBcd.ToFloat80(bcd);
    }

    private void Arithmetic(in Instruction ins, IX87Memory? memory, ArithmeticOperation operation, bool pop)
    {
        var c = NewContext(usePrecisionControl: true);
        int destination;
        var source = -1;
        Float80 memoryValue = default;
        if (memory is not null)
        {
            memoryValue = LoadOperand(ins, memory, ref c);
            destination = 0;
        }
        else
        {
            destination = StIndex(ins.Op0Register);
            source = StIndex(ins.Op1Register);
        }

        ClearC1();
        if (IsEmpty(destination) || (source >= 0 && IsEmpty(source)))
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

        var a = St(destination);
        var b = source >= 0 ? St(source) : memoryValue;
        DropMemoryDenormalAgainstNaN(ref c, a, memory);
        var result = operation switch
        {
            ArithmeticOperation.Add => SoftFloat80.Add(ref c, a, b),
            ArithmeticOperation.Subtract => SoftFloat80.Sub(ref c, a, b),
            ArithmeticOperation.SubtractReversed => SoftFloat80.Sub(ref c, b, a),
            ArithmeticOperation.Multiply => SoftFloat80.Mul(ref c, a, b),
            ArithmeticOperation.Divide => SoftFloat80.Div(ref c, a, b),
            _ => SoftFloat80.Div(ref c, b, a),
        };
        if (Commit(c))
        {
            SetSt(destination, result);
            if (pop)
            {
                Pop();
            }
        }
    }

    private void Compare(in Instruction ins, IX87Memory? memory, bool quiet, int pops, bool toEflags, ref X87Context context)
    {
        var c = NewContext();
        var source = 1;
        Float80 memoryValue = default;
        if (memory is not null)
        {
            memoryValue = LoadOperand(ins, memory, ref c);
        }
        else if (ins.OpCount == 2)
        {
            source = StIndex(ins.Op1Register);
        }
        else if (ins.OpCount == 1)
        {
            source = StIndex(ins.Op0Register);
        }

        ClearC1();
        if (IsEmpty(0) || (memory is null && IsEmpty(source)))
        {
            // Measured on Intel: the unordered result is reported even when the stack fault is unmasked.
            var masked = StackUnderflow();
            if (toEflags)
            {
                SetComparisonFlags(ref context, X87Comparison.Unordered);
            }
            else
            {
                SetComparisonCodes(X87Comparison.Unordered);
            }

            if (masked)
            {
                PopTimes(pops);
            }

            return;
        }

        DropMemoryDenormalAgainstNaN(ref c, St(0), memory);
        var relation = SoftFloat80.Compare(ref c, St(0), memory is null ? St(source) : memoryValue, quiet);
        // Hardware sets the condition codes even when the exception is unmasked; only the pop is withheld.
        var proceed = Commit(c);
        if (toEflags)
        {
            SetComparisonFlags(ref context, relation);
        }
        else
        {
            SetComparisonCodes(relation);
        }

        if (proceed)
        {
            PopTimes(pops);
        }
    }

    /// <summary>
    /// A denormal m32/m64 operand is flagged while widening it, but the hardware does not report DE
    /// when the register operand is a NaN or an unsupported encoding (the NaN/invalid path wins).
    /// </summary>
    private static void DropMemoryDenormalAgainstNaN(ref FloatContext c, Float80 registerOperand, IX87Memory? memory)
    {
        if (memory is not null && (registerOperand.IsNaN || registerOperand.IsUnsupported))
        {
            c.Flags &= ~X87ExceptionFlags.Denormal;
        }
    }

    private void PopTimes(int count)
    {
        for (var i = 0; i < count; i++)
        {
            Pop();
        }
    }

    private void SetComparisonCodes(X87Comparison relation) => SetConditionCodes(
        c3: relation is X87Comparison.Equal or X87Comparison.Unordered,
        c2: relation == X87Comparison.Unordered,
        c1: false,
        c0: relation is X87Comparison.Less or X87Comparison.Unordered);

    /// <summary>FCOMI family: ZF/PF/CF as an unsigned compare would set them (all three when unordered); OF, SF, AF cleared.</summary>
    private static void SetComparisonFlags(ref X87Context context, X87Comparison relation)
    {
        const uint cf = 0x001, pf = 0x004, af = 0x010, zf = 0x040, sf = 0x080, of = 0x800;
        var flags = context.Eflags & ~(cf | pf | af | zf | sf | of);
        flags |= relation switch
        {
            X87Comparison.Less => cf,
            X87Comparison.Equal => zf,
            X87Comparison.Unordered => zf | pf | cf,
            _ => 0u,
        };
        context.Eflags = flags;
    }

    private void Test()
    {
        ClearC1();
        if (IsEmpty(0))
        {
            StackUnderflow();
            SetComparisonCodes(X87Comparison.Unordered);
            return;
        }

        var c = NewContext();
        var relation = SoftFloat80.Compare(ref c, St(0), Float80.PositiveZero, quiet: false);
        Commit(c);
        SetComparisonCodes(relation);
    }

    /// <summary>FXAM: C1 = sign; C3,C2,C0 = class (unsupported 000, NaN 001, normal 010, infinity 011, zero 100, empty 101, denormal 110).</summary>
    private void Examine()
    {
        var value = St(0);
        bool c3, c2, c0;
        if (IsEmpty(0))
        {
            (c3, c2, c0) = (true, false, true);
        }
        else if (value.IsUnsupported)
        {
            (c3, c2, c0) = (false, false, false);
        }
        else if (value.IsNaN)
        {
            (c3, c2, c0) = (false, false, true);
        }
        else if (value.IsInfinity)
        {
            (c3, c2, c0) = (false, true, true);
        }
        else if (value.IsZero)
        {
            (c3, c2, c0) = (true, false, false);
        }
        else if (value.IsDenormal)
        {
            (c3, c2, c0) = (true, true, false);
        }
        else
        {
            (c3, c2, c0) = (false, true, false);
        }

        SetConditionCodes(c3, c2, value.Sign, c0);
    }

    private void ConditionalMove(Mnemonic mnemonic, int source, uint eflags)
    {
        var cf = (eflags & 0x001) != 0;
        var pf = (eflags & 0x004) != 0;
        var zf = (eflags & 0x040) != 0;
        var condition = mnemonic switch
        {
            Mnemonic.Fcmovb => cf,
            Mnemonic.Fcmove => zf,
            Mnemonic.Fcmovbe => cf || zf,
            Mnemonic.Fcmovu => pf,
            Mnemonic.Fcmovnb => !cf,
            Mnemonic.Fcmovne => !zf,
            Mnemonic.Fcmovnbe => !(cf || zf),
            _ => !pf,
        };
        ClearC1();
        if (IsEmpty(0) || IsEmpty(source))
        {
            if (StackUnderflow())
            {
                SetSt(0, Float80.Indefinite);
            }

            return;
        }

        if (condition)
        {
            SetSt(0, St(source));
        }
    }

    private void SignOperation(bool negate)
    {
        ClearC1();
        if (IsEmpty(0))
        {
            if (StackUnderflow())
            {
                SetSt(0, Float80.Indefinite);
            }

            return;
        }

        SetSt(0, negate ? St(0).Negate() : St(0).Abs());
    }

    private void Unary(UnaryOperation operation)
    {
        ClearC1();
        if (IsEmpty(0))
        {
            if (StackUnderflow())
            {
                SetSt(0, Float80.Indefinite);
            }

            return;
        }

        var c = NewContext(usePrecisionControl: operation == UnaryOperation.SquareRoot);
        var result = operation switch
        {
            UnaryOperation.SquareRoot => SoftFloat80.Sqrt(ref c, St(0)),
            UnaryOperation.RoundToInteger => SoftFloat80.RoundToInt(ref c, St(0)),
            _ => X87Transcendentals.F2xm1(ref c, St(0)),
        };
        if (Commit(c))
        {
            SetSt(0, result);
        }
    }

    private void Trigonometric(bool sine)
    {
        ClearC1();
        _status &= unchecked((ushort)~StatusC2);
        if (IsEmpty(0))
        {
            if (StackUnderflow())
            {
                SetSt(0, Float80.Indefinite);
            }

            return;
        }

        var c = NewContext();
        Float80 result;
        var inRange = sine ? X87Transcendentals.Sin(ref c, St(0), out result) : X87Transcendentals.Cos(ref c, St(0), out result);
        if (!inRange)
        {
            _status |= StatusC2;
            return;
        }

        if (Commit(c))
        {
            SetSt(0, result);
        }
    }

    /// <summary>Shared stack checks of FPTAN, FSINCOS and FXTRACT, which replace ST(0) and push: true to proceed.</summary>
    private bool CheckReplaceAndPush()
    {
        if (!IsEmpty(0) && !PushWouldOverflow)
        {
            return true;
        }

        var overflow = !IsEmpty(0);
        _status = StackFaultStatus(overflow);
        if (InvalidMasked)
        {
            SetSt(0, Float80.Indefinite);
            Push(Float80.Indefinite);
        }

        return false;
    }

    private void PartialTangent()
    {
        ClearC1();
        _status &= unchecked((ushort)~StatusC2);
        if (!CheckReplaceAndPush())
        {
            return;
        }

        var c = NewContext();
        if (!X87Transcendentals.Tan(ref c, St(0), out var tangent))
        {
            _status |= StatusC2;
            return;
        }

        if (Commit(c))
        {
            SetSt(0, tangent);
            Push(tangent.IsNaN ? tangent : Float80.One);
        }
    }

    private void SineCosine()
    {
        ClearC1();
        _status &= unchecked((ushort)~StatusC2);
        if (!CheckReplaceAndPush())
        {
            return;
        }

        var c = NewContext();
        if (!X87Transcendentals.SinCos(ref c, St(0), out var sine, out var cosine))
        {
            _status |= StatusC2;
            return;
        }

        if (Commit(c))
        {
            SetSt(0, sine);
            Push(cosine);
        }
    }

    private void ExtractExponent()
    {
        ClearC1();
        if (!CheckReplaceAndPush())
        {
            return;
        }

        var c = NewContext();
        var exponent = SoftFloat80.Extract(ref c, St(0), out var significand);
        if (Commit(c))
        {
            SetSt(0, exponent);
            Push(significand);
        }
    }

    private void Scale()
    {
        ClearC1();
        if (IsEmpty(0) || IsEmpty(1))
        {
            if (StackUnderflow())
            {
                SetSt(0, Float80.Indefinite);
            }

            return;
        }

        var c = NewContext();
        var result = SoftFloat80.Scale(ref c, St(0), St(1));
        if (Commit(c))
        {
            SetSt(0, result);
        }
    }

    private void PartialRemainder(bool nearest)
    {
        ClearC1();
        if (IsEmpty(0) || IsEmpty(1))
        {
            if (StackUnderflow())
            {
                SetSt(0, Float80.Indefinite);
            }

            return;
        }

        var c = NewContext();
        var result = SoftFloat80.Remainder(ref c, St(0), St(1), nearest, out var quotient, out var partial);
        if (Commit(c))
        {
            SetSt(0, result);
            SetConditionCodes(c3: (quotient & 2) != 0, c2: partial, c1: (quotient & 1) != 0, c0: (quotient & 4) != 0);
        }
    }

    /// <summary>FYL2X, FYL2XP1, FPATAN: ST(1) = f(ST(0), ST(1)), then pop.</summary>
    private void ReplaceSecondAndPop(PopOperation operation)
    {
        ClearC1();
        if (IsEmpty(0) || IsEmpty(1))
        {
            if (StackUnderflow())
            {
                SetSt(1, Float80.Indefinite);
                Pop();
            }

            return;
        }

        var c = NewContext();
        var result = operation switch
        {
            PopOperation.Fyl2x => X87Transcendentals.Fyl2x(ref c, St(0), St(1)),
            PopOperation.Fyl2xp1 => X87Transcendentals.Fyl2xp1(ref c, St(0), St(1)),
            _ => X87Transcendentals.Fpatan(ref c, St(0), St(1)),
        };
        if (Commit(c))
        {
            SetSt(1, result);
            Pop();
        }
    }
}
