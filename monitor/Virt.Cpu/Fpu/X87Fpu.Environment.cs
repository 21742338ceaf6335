namespace Virt.Cpu.Fpu;

public sealed partial class X87Fpu
{
    /// <summary>
    /// FNSTENV/FNSAVE environment image in the layout chosen by operand size and mode (SDM vol. 1
    /// figures 8-9 to 8-12). Reserved halves of the 32-bit layouts are written as FFFFh, as
    /// hardware does. In real/V86 mode the pointers are stored as 20/32-bit linear addresses.
    /// Returns the image size (where FNSAVE's registers start).
    /// </summary>
    private uint StoreEnvironment(IX87Memory memory, in X87Context context)
    {
        var tag = TagWord;
        var status = StatusWord;
        var instructionLinear = (uint)(CodeSelector << 4) + InstructionPointer;
        var dataLinear = (uint)(DataSelector << 4) + DataPointer;
        if (context.OperandSize32)
        {
            memory.Write32(0, 0xFFFF_0000 | _control);
            memory.Write32(4, 0xFFFF_0000 | status);
            memory.Write32(8, 0xFFFF_0000 | tag);
            if (context.ProtectedMode)
            {
                memory.Write32(12, InstructionPointer);
                memory.Write32(16, ((uint)(LastOpcode & 0x7FF) << 16) | CodeSelector);
                memory.Write32(20, DataPointer);
                memory.Write32(24, 0xFFFF_0000 | DataSelector);
            }
            else
            {
                memory.Write32(12, 0xFFFF_0000 | (instructionLinear & 0xFFFF));
                memory.Write32(16, ((instructionLinear & 0xFFFF_0000) >> 4) | (uint)(LastOpcode & 0x7FF));
                memory.Write32(20, 0xFFFF_0000 | (dataLinear & 0xFFFF));
                memory.Write32(24, (dataLinear & 0xFFFF_0000) >> 4);
            }

            return 28;
        }

        memory.Write16(0, _control);
        memory.Write16(2, status);
        memory.Write16(4, tag);
        if (context.ProtectedMode)
        {
            memory.Write16(6, (ushort)InstructionPointer);
            memory.Write16(8, CodeSelector);
            memory.Write16(10, (ushort)DataPointer);
            memory.Write16(12, DataSelector);
        }
        else
        {
            memory.Write16(6, (ushort)instructionLinear);
            memory.Write16(8, (ushort)(((instructionLinear & 0xF_0000) >> 4) | (uint)(LastOpcode & 0x7FF)));
            memory.Write16(10, (ushort)dataLinear);
            memory.Write16(12, (ushort)((dataLinear & 0xF_0000) >> 4));
        }

        return 14;
    }

    /// <summary>
    /// FLDENV/FRSTOR: everything is read before anything is changed, so a fault leaves the FPU intact.
    /// Only "empty" is taken from the tag word; ES/B are recomputed from the loaded flags and masks.
    /// </summary>
    private void LoadEnvironment(IX87Memory memory, in X87Context context, bool withRegisters)
    {
        ushort control, status, tag, codeSelector = 0, dataSelector = 0;
        uint instructionPointer, dataPointer;
        var opcode = LastOpcode;
        uint size;
        if (context.OperandSize32)
        {
            control = (ushort)memory.Read32(0);
            status = (ushort)memory.Read32(4);
            tag = (ushort)memory.Read32(8);
            var word3 = memory.Read32(12);
            var word4 = memory.Read32(16);
            var word5 = memory.Read32(20);
            var word6 = memory.Read32(24);
            if (context.ProtectedMode)
            {
                instructionPointer = word3;
                codeSelector = (ushort)word4;
                opcode = (ushort)((word4 >> 16) & 0x7FF);
                dataPointer = word5;
                dataSelector = (ushort)word6;
            }
            else
            {
                instructionPointer = (word3 & 0xFFFF) | ((word4 << 4) & 0xFFFF_0000);
                opcode = (ushort)(word4 & 0x7FF);
                dataPointer = (word5 & 0xFFFF) | ((word6 << 4) & 0xFFFF_0000);
            }

            size = 28;
        }
        else
        {
            control = memory.Read16(0);
            status = memory.Read16(2);
            tag = memory.Read16(4);
            var word3 = memory.Read16(6);
            var word4 = memory.Read16(8);
            var word5 = memory.Read16(10);
            var word6 = memory.Read16(12);
            if (context.ProtectedMode)
            {
                instructionPointer = word3;
                codeSelector = word4;
                dataPointer = word5;
                dataSelector = word6;
            }
            else
            {
                instructionPointer = word3 | ((uint)(word4 & 0xF000) << 4);
                opcode = (ushort)(word4 & 0x7FF);
                dataPointer = word5 | ((uint)(word6 & 0xF000) << 4);
            }

            size = 14;
        }

        Span<Float80> registers = stackalloc Float80[8];
        if (withRegisters)
        {
            for (var i = 0; i < 8; i++)
            {
                registers[i] = ReadFloat80(memory, size + (uint)(10 * i));
            }
        }

        _control = (ushort)((control & 0x1F3F) | 0x0040);
        StatusWord = status;
        TagWord = tag;
        InstructionPointer = instructionPointer;
        CodeSelector = codeSelector;
        DataPointer = dataPointer;
        DataSelector = dataSelector;
        LastOpcode = opcode;
        if (withRegisters)
        {
            for (var i = 0; i < 8; i++)
            {
                _registers[Physical(i)] = registers[i];
            }
        }

        RecomputeSummary();
    }
}
