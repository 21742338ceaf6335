using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.State;

namespace Virt.Cpu;

// Glue between the integer core and the x87 unit: #NM for CR0.EM/TS, #MF for pending exceptions.
public sealed partial class Cpu
{
    private static readonly bool[] s_isX87 = BuildX87Table();

    private static bool[] BuildX87Table()
    {
        var t = new bool[Enum.GetValues<Code>().Length];
        for (int i = 0; i < t.Length; i++)
        {
            var info = ((Code)i).ToOpCode();
            t[i] = info.Encoding == EncodingKind.Legacy && info.Table == OpCodeTableKind.Normal && info.OpCode is >= 0xD8 and <= 0xDF;
        }
        return t;
    }

    private static bool IsFpu(in Instruction ins) => s_isX87[(int)ins.Code];

    private void ResetFpu()
    {
    }

    private void CheckFpuWait()
    {
        if ((Cr0 & (ControlBits.CR0_MP | ControlBits.CR0_TS)) == (ControlBits.CR0_MP | ControlBits.CR0_TS)) throw Fault(Vectors.NM);
    }

    private void ExecFpu(in Instruction ins)
    {
        if ((Cr0 & (ControlBits.CR0_EM | ControlBits.CR0_TS)) != 0) throw Fault(Vectors.NM);
        throw Fault(Vectors.UD);
    }
}
