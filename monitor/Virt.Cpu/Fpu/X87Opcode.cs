using Iced.Intel;

namespace Virt.Cpu.Fpu;

/// <summary>
/// Reconstructs the 11-bit x87 last-instruction opcode (FOP: low 3 bits of the D8-DF byte, then
/// the ModR/M byte) from a decoded instruction, since Iced does not keep the raw bytes. Register
/// forms are exact; for memory forms mod and r/m are rebuilt from the addressing form and
/// displacement size, which is what the encoder would have used.
/// </summary>
internal static class X87Opcode
{
    public static ushort Of(in Instruction instruction)
    {
        var info = instruction.Code.ToOpCode();
        if (info.OpCodeLength == 2)
        {
            // "D8 C0+i" forms: the second byte plus the ST(i) index; fixed forms like "D9 E0" have no ST(i).
            var second = (int)(info.OpCode & 0xFF);
            var first = (int)(info.OpCode >> 8);
            var index = 0;
            for (var i = 0; i < instruction.OpCount; i++)
            {
                if (instruction.GetOpKind(i) == OpKind.Register)
                {
                    var register = instruction.GetOpRegister(i);
                    if (register >= Register.ST0 && register <= Register.ST7)
                    {
                        index = Math.Max(index, register - Register.ST0);
                    }
                }
            }

            return (ushort)(((first & 7) << 8) | (second + index));
        }

        var opcode = (int)info.OpCode;
        var reg = info.GroupIndex < 0 ? 0 : info.GroupIndex;
        return (ushort)(((opcode & 7) << 8) | MemoryModRm(instruction, reg));
    }

    private static int MemoryModRm(in Instruction instruction, int reg)
    {
        var @base = instruction.MemoryBase;
        var index = instruction.MemoryIndex;
        var displacementSize = instruction.MemoryDisplSize;
        var is16 = IsRegister16(@base) || IsRegister16(index) || (@base == Register.None && index == Register.None && displacementSize == 2);
        int mod;
        int rm;
        if (is16)
        {
            rm = (@base, index) switch
            {
                (Register.BX, Register.SI) => 0,
                (Register.BX, Register.DI) => 1,
                (Register.BP, Register.SI) => 2,
                (Register.BP, Register.DI) => 3,
                (Register.SI, Register.None) => 4,
                (Register.DI, Register.None) => 5,
                (Register.BP, Register.None) => 6,
                (Register.BX, Register.None) => 7,
                _ => 6,
            };
            if (@base == Register.None && index == Register.None)
            {
                return (reg << 3) | 6;
            }

            mod = displacementSize == 0 ? (@base == Register.BP && index == Register.None ? 1 : 0) : displacementSize == 1 ? 1 : 2;
            return (mod << 6) | (reg << 3) | rm;
        }

        if (index != Register.None || @base == Register.ESP)
        {
            rm = 4;
        }
        else if (@base == Register.None)
        {
            return (reg << 3) | 5;
        }
        else
        {
            rm = @base - Register.EAX;
        }

        if (@base == Register.None)
        {
            mod = 0;
        }
        else
        {
            mod = displacementSize == 0 ? (@base == Register.EBP ? 1 : 0) : displacementSize == 1 ? 1 : 2;
        }

        return (mod << 6) | (reg << 3) | (rm & 7);
    }

    private static bool IsRegister16(Register register) => register is >= Register.AX and <= Register.DI;
}
