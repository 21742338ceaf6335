using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.Fpu;
using Virt.Cpu.State;

namespace Virt.Cpu;

// Glue between the integer core and the x87 unit (see X87Fpu's caller contract): #NM for
// CR0.EM/TS, #MF or FERR# for pending unmasked exceptions, the memory operand, AX and EFLAGS.
public sealed partial class Cpu
{
    private static readonly bool[] s_isX87 = BuildX87Table();
    private FpuOperand? _fpuOperand;

    /// <summary>The x87 unit.</summary>
    public X87Fpu Fpu { get; } = new();

    /// <summary>
    /// Called when a pending x87 exception meets a waiting instruction with CR0.NE clear: the PC
    /// routes FERR# to IRQ 13. The host raises that line.
    /// </summary>
    public Action? FerrSignaled { get; set; }

    private static bool[] BuildX87Table()
    {
        var t = new bool[Enum.GetValues<Code>().Length];
        for (int i = 0; i < t.Length; i++)
        {
            var info = ((Code)i).ToOpCode();
            if (info.Encoding != EncodingKind.Legacy || info.Table != OpCodeTableKind.Normal) continue;
            uint first = info.OpCodeLength == 2 ? info.OpCode >> 8 : info.OpCode;
            t[i] = first is >= 0xD8 and <= 0xDF;
        }
        return t;
    }

    private static bool IsFpu(in Instruction ins) => s_isX87[(int)ins.Code];

    private void ResetFpu() => Fpu.Reset();

    /// <summary>WAIT/FWAIT: #NM when CR0.MP and TS are set, then any pending unmasked exception.</summary>
    private void CheckFpuWait()
    {
        if ((Cr0 & (ControlBits.CR0_MP | ControlBits.CR0_TS)) == (ControlBits.CR0_MP | ControlBits.CR0_TS)) throw Fault(Vectors.NM);
        if (Fpu.HasPendingUnmaskedException) RaiseFpuError();
    }

    private void RaiseFpuError()
    {
        if ((Cr0 & ControlBits.CR0_NE) != 0) throw Fault(Vectors.MF);
        FerrSignaled?.Invoke();
    }

    private void ExecFpu(in Instruction ins)
    {
        if ((Cr0 & (ControlBits.CR0_EM | ControlBits.CR0_TS)) != 0) throw Fault(Vectors.NM);
        if (X87Fpu.IsWaitingInstruction(ins.Code) && Fpu.HasPendingUnmaskedException) RaiseFpuError();

        IX87Memory? mem = null;
        int seg = SegmentIndex.DS;
        uint ea = 0;
        if (ins.OpCount > 0 && ins.Op0Kind == OpKind.Memory)
        {
            seg = MemSeg(in ins);
            ea = EffectiveAddress(in ins);
            mem = (_fpuOperand ??= new FpuOperand(this)).Bind(seg, ea);
        }
        var ctx = new X87Context
        {
            OperandSize32 = ins.MemorySize is not (MemorySize.FpuEnv14 or MemorySize.FpuState94),
            ProtectedMode = ProtectedMode && !V86Mode,
            CodeSelector = Seg[SegmentIndex.CS].Selector,
            InstructionPointer = EipReg,
            DataSelector = Seg[seg].Selector,
            DataOffset = ea,
            Ax = (ushort)R[0],
            Eflags = GetEflags(),
        };
        if (Fpu.Execute(in ins, mem, ref ctx) == X87Outcome.InvalidOpcode) throw Fault(Vectors.UD);
        SetReg16(0, ctx.Ax);
        SetArithFlags(ctx.Eflags);
    }
}
