using Iced.Intel;

namespace Virt.Cpu.Fpu;

public sealed partial class X87Fpu
{
    /// <summary>
    /// Executes one decoded x87 instruction. See the class documentation for what the caller does
    /// before (device-not-available and pending-exception checks) and after.
    /// </summary>
    public X87Outcome Execute(in Instruction instruction, IX87Memory? memory, ref X87Context context)
    {
        var hasMemory = instruction.OpCount > 0 && instruction.Op0Kind == OpKind.Memory;
        if (hasMemory != (memory is not null))
        {
            throw new ArgumentException($"{instruction.Code}: memory operand presence does not match the instruction", nameof(memory));
        }

        var outcome = Dispatch(instruction, memory, ref context, out var isControl);
        if (outcome == X87Outcome.Completed && !isControl)
        {
            // Control instructions leave the pointers of the last numeric instruction for exception handlers.
            InstructionPointer = context.InstructionPointer;
            CodeSelector = context.CodeSelector;
            LastOpcode = X87Opcode.Of(instruction);
            if (memory is not null)
            {
                DataPointer = context.DataOffset;
                DataSelector = context.DataSelector;
            }
        }

        return outcome;
    }

    private X87Outcome Dispatch(in Instruction ins, IX87Memory? memory, ref X87Context context, out bool isControl)
    {
        isControl = false;
        switch (ins.Mnemonic)
        {
            case Mnemonic.Fadd or Mnemonic.Fiadd:
                Arithmetic(ins, memory, ArithmeticOperation.Add, false);
                break;
            case Mnemonic.Faddp:
                Arithmetic(ins, memory, ArithmeticOperation.Add, true);
                break;
            case Mnemonic.Fsub or Mnemonic.Fisub:
                Arithmetic(ins, memory, ArithmeticOperation.Subtract, false);
                break;
            case Mnemonic.Fsubp:
                Arithmetic(ins, memory, ArithmeticOperation.Subtract, true);
                break;
            case Mnemonic.Fsubr or Mnemonic.Fisubr:
                Arithmetic(ins, memory, ArithmeticOperation.SubtractReversed, false);
                break;
            case Mnemonic.Fsubrp:
                Arithmetic(ins, memory, ArithmeticOperation.SubtractReversed, true);
                break;
            case Mnemonic.Fmul or Mnemonic.Fimul:
                Arithmetic(ins, memory, ArithmeticOperation.Multiply, false);
                break;
            case Mnemonic.Fmulp:
                Arithmetic(ins, memory, ArithmeticOperation.Multiply, true);
                break;
            case Mnemonic.Fdiv or Mnemonic.Fidiv:
                Arithmetic(ins, memory, ArithmeticOperation.Divide, false);
                break;
            case Mnemonic.Fdivp:
                Arithmetic(ins, memory, ArithmeticOperation.Divide, true);
                break;
            case Mnemonic.Fdivr or Mnemonic.Fidivr:
                Arithmetic(ins, memory, ArithmeticOperation.DivideReversed, false);
                break;
            case Mnemonic.Fdivrp:
                Arithmetic(ins, memory, ArithmeticOperation.DivideReversed, true);
                break;

            case Mnemonic.Fcom or Mnemonic.Ficom:
                Compare(ins, memory, quiet: false, pops: 0, toEflags: false, ref context);
                break;
            case Mnemonic.Fcomp or Mnemonic.Ficomp:
                Compare(ins, memory, quiet: false, pops: 1, toEflags: false, ref context);
                break;
            case Mnemonic.Fcompp:
                Compare(ins, memory, quiet: false, pops: 2, toEflags: false, ref context);
                break;
            case Mnemonic.Fucom:
                Compare(ins, memory, quiet: true, pops: 0, toEflags: false, ref context);
                break;
            case Mnemonic.Fucomp:
                Compare(ins, memory, quiet: true, pops: 1, toEflags: false, ref context);
                break;
            case Mnemonic.Fucompp:
                Compare(ins, memory, quiet: true, pops: 2, toEflags: false, ref context);
                break;
            case Mnemonic.Fcomi:
                Compare(ins, memory, quiet: false, pops: 0, toEflags: true, ref context);
                break;
            case Mnemonic.Fcomip:
                Compare(ins, memory, quiet: false, pops: 1, toEflags: true, ref context);
                break;
            case Mnemonic.Fucomi:
                Compare(ins, memory, quiet: true, pops: 0, toEflags: true, ref context);
                break;
            case Mnemonic.Fucomip:
                Compare(ins, memory, quiet: true, pops: 1, toEflags: true, ref context);
                break;
            case Mnemonic.Ftst:
                Test();
                break;
            case Mnemonic.Fxam:
                Examine();
                break;

            case Mnemonic.Fld or Mnemonic.Fild or Mnemonic.Fbld:
                if (memory is not null)
                {
                    LoadMemory(ins, memory);
                }
                else
                {
                    LoadRegister(StIndex(ins.Op0Register));
                }

                break;
            case Mnemonic.Fld1:
                LoadConstant(Float80.One, 0);
                break;
            case Mnemonic.Fldz:
                LoadConstant(Float80.PositiveZero, 0);
                break;
            case Mnemonic.Fldl2t:
                // Intel rounds the internal 66-bit constants under RC; log2(10) is just below its 64-bit rounding point.
                LoadConstant(new Float80(0x4000, 0xD49A_784B_CD1B_8AFE), RoundingControl == X87RoundingControl.Up ? 1 : 0);
                break;
            case Mnemonic.Fldl2e:
                LoadConstant(new Float80(0x3FFF, 0xB8AA_3B29_5C17_F0BC), RoundsConstantDown ? -1 : 0);
                break;
            case Mnemonic.Fldpi:
                LoadConstant(new Float80(0x4000, 0xC90F_DAA2_2168_C235), RoundsConstantDown ? -1 : 0);
                break;
            case Mnemonic.Fldlg2:
                LoadConstant(new Float80(0x3FFD, 0x9A20_9A84_FBCF_F799), RoundsConstantDown ? -1 : 0);
                break;
            case Mnemonic.Fldln2:
                LoadConstant(new Float80(0x3FFE, 0xB172_17F7_D1CF_79AC), RoundsConstantDown ? -1 : 0);
                break;

            case Mnemonic.Fst or Mnemonic.Fstp or Mnemonic.Fstpnce or Mnemonic.Fist or Mnemonic.Fistp or Mnemonic.Fisttp or Mnemonic.Fbstp:
                {
                    var pop = ins.Mnemonic is Mnemonic.Fstp or Mnemonic.Fstpnce or Mnemonic.Fistp or Mnemonic.Fisttp or Mnemonic.Fbstp;
                    if (memory is not null)
                    {
                        StoreMemory(ins, memory, pop, truncate: ins.Mnemonic == Mnemonic.Fisttp);
                    }
                    else
                    {
                        StoreRegister(StIndex(ins.Op0Register), pop);
                    }

                    break;
                }

            case Mnemonic.Fxch:
                Exchange(ins.OpCount == 2 ? StIndex(ins.Op1Register) : 1);
                break;
            case Mnemonic.Ffree:
                _emptyMask |= 1 << Physical(StIndex(ins.Op0Register));
                break;
            case Mnemonic.Ffreep:
                _emptyMask |= 1 << Physical(StIndex(ins.Op0Register));
                Pop();
                break;
            case Mnemonic.Fincstp:
                ClearC1();
                _top = (_top + 1) & 7;
                break;
            case Mnemonic.Fdecstp:
                ClearC1();
                _top = (_top - 1) & 7;
                break;
            case Mnemonic.Fcmovb or Mnemonic.Fcmove or Mnemonic.Fcmovbe or Mnemonic.Fcmovu
                or Mnemonic.Fcmovnb or Mnemonic.Fcmovne or Mnemonic.Fcmovnbe or Mnemonic.Fcmovnu:
                ConditionalMove(ins.Mnemonic, StIndex(ins.Op1Register), context.Eflags);
                break;
            case Mnemonic.Fchs:
                SignOperation(negate: true);
                break;
            case Mnemonic.Fabs:
                SignOperation(negate: false);
                break;
            case Mnemonic.Fnop:
                break;

            case Mnemonic.Fsqrt:
                Unary(UnaryOperation.SquareRoot);
                break;
            case Mnemonic.Frndint:
                Unary(UnaryOperation.RoundToInteger);
                break;
            case Mnemonic.F2xm1:
                Unary(UnaryOperation.TwoToXMinusOne);
                break;
            case Mnemonic.Fsin:
                Trigonometric(sine: true);
                break;
            case Mnemonic.Fcos:
                Trigonometric(sine: false);
                break;
            case Mnemonic.Fptan:
                PartialTangent();
                break;
            case Mnemonic.Fsincos:
                SineCosine();
                break;
            case Mnemonic.Fxtract:
                ExtractExponent();
                break;
            case Mnemonic.Fscale:
                Scale();
                break;
            case Mnemonic.Fprem:
                PartialRemainder(nearest: false);
                break;
            case Mnemonic.Fprem1:
                PartialRemainder(nearest: true);
                break;
            case Mnemonic.Fyl2x:
                ReplaceSecondAndPop(PopOperation.Fyl2x);
                break;
            case Mnemonic.Fyl2xp1:
                ReplaceSecondAndPop(PopOperation.Fyl2xp1);
                break;
            case Mnemonic.Fpatan:
                ReplaceSecondAndPop(PopOperation.Fpatan);
                break;

            default:
                isControl = true;
                return DispatchControl(ins, memory, ref context);
        }

        return X87Outcome.Completed;
    }

    private X87Outcome DispatchControl(in Instruction ins, IX87Memory? memory, ref X87Context context)
    {
        switch (ins.Code)
        {
            case Code.Wait:
            case Code.Fneni or Code.Feni or Code.Fndisi or Code.Fdisi or Code.Fnsetpm or Code.Fsetpm:
                // FENI/FDISI only mattered on the 8087 and FSETPM on the 287: no-ops on a 387+.
                return X87Outcome.Completed;
            case Code.Fninit or Code.Finit:
                Init();
                return X87Outcome.Completed;
            case Code.Fnclex or Code.Fclex:
                _status &= 0x7F00;
                return X87Outcome.Completed;
            case Code.Fldcw_m2byte:
                ControlWord = memory!.Read16(0);
                return X87Outcome.Completed;
            case Code.Fnstcw_m2byte or Code.Fstcw_m2byte:
                memory!.Write16(0, _control);
                return X87Outcome.Completed;
            case Code.Fnstsw_m2byte or Code.Fstsw_m2byte:
                memory!.Write16(0, StatusWord);
                return X87Outcome.Completed;
            case Code.Fnstsw_AX or Code.Fstsw_AX:
                context.Ax = StatusWord;
                return X87Outcome.Completed;
            case Code.Fldenv_m14byte or Code.Fldenv_m28byte:
                LoadEnvironment(memory!, context, withRegisters: false);
                return X87Outcome.Completed;
            case Code.Frstor_m94byte or Code.Frstor_m108byte:
                LoadEnvironment(memory!, context, withRegisters: true);
                return X87Outcome.Completed;
            case Code.Fnstenv_m14byte or Code.Fnstenv_m28byte or Code.Fstenv_m14byte or Code.Fstenv_m28byte:
                StoreEnvironment(memory!, context);
                // FSTENV leaves all exceptions masked, so a handler that saved the environment is not re-entered.
                _control |= (ushort)X87ExceptionFlags.All;
                RecomputeSummary();
                return X87Outcome.Completed;
            case Code.Fnsave_m94byte or Code.Fnsave_m108byte or Code.Fsave_m94byte or Code.Fsave_m108byte:
                {
                    var offset = StoreEnvironment(memory!, context);
                    for (var i = 0; i < 8; i++)
                    {
                        var value = St(i);
                        memory!.Write64(offset + (uint)(10 * i), value.Significand);
                        memory.Write16(offset + (uint)(10 * i) + 8, value.SignExponent);
                    }

                    Init();
                    return X87Outcome.Completed;
                }

            default:
                return X87Outcome.InvalidOpcode;
        }
    }

    private static int StIndex(Register register) => register - Register.ST0;

    /// <summary>The 387+ rounds FLDL2E/FLDPI/FLDLG2/FLDLN2 (just above their 64-bit value) down under RC down/chop.</summary>
    private bool RoundsConstantDown => RoundingControl is X87RoundingControl.Down or X87RoundingControl.TowardZero;
}
