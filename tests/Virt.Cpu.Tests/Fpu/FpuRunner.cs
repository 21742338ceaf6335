using Iced.Intel;
using Virt.Cpu.Fpu;

namespace Virt.Cpu.Tests.Fpu;

/// <summary>Decodes 32-bit x87 instruction bytes with Iced and runs them through an <see cref="X87Fpu"/>.</summary>
internal sealed class FpuRunner
{
    private static readonly Dictionary<string, Instruction> Cache = new();

    public X87Fpu Fpu { get; } = new();
    public X87Context Context;
    /// <summary>Memory for instructions with a memory operand (always at offset 0 of this buffer).</summary>
    public byte[] Memory { get; set; } = new byte[512];

    public FpuRunner()
    {
        Fpu.Init();
        Context.OperandSize32 = true;
        Context.ProtectedMode = true;
    }

    public static Instruction Decode(params byte[] bytes)
    {
        var key = Convert.ToHexString(bytes);
        lock (Cache)
        {
            if (Cache.TryGetValue(key, out var cached))
            {
                return cached;
            }
        }

        var decoder = Decoder.Create(32, new ByteArrayCodeReader(bytes));
        decoder.Decode(out var instruction);
        if (instruction.Code == Code.INVALID || instruction.Length != bytes.Length)
        {
            throw new ArgumentException($"bytes {key} do not decode to exactly one instruction ({instruction.Code}, {instruction.Length})");
        }

        lock (Cache)
        {
            Cache[key] = instruction;
        }

        return instruction;
    }

    public X87Outcome Run(params byte[] bytes)
    {
        var instruction = Decode(bytes);
        var hasMemory = instruction.OpCount > 0 && instruction.Op0Kind == OpKind.Memory;
        return Fpu.Execute(instruction, hasMemory ? new FpuTestMemory(Memory) : null, ref Context);
    }

    /// <summary>Pushes a value with FLD m80 (through the instruction, so stack checks apply).</summary>
    public void Push(Float80 value)
    {
        value.WriteTo(Memory);
        Run(0xDB, 0x28);
    }

    public void Push(double value) => Push(Float80.FromDouble(value));

    public Float80 St(int i) => Fpu.GetStackRegister(i);

    public void SetControlWord(ushort value)
    {
        BitConverter.GetBytes(value).CopyTo(Memory, 0);
        Run(0xD9, 0x28);
    }

    public ushort StatusWord => Fpu.StatusWord;
    public int Top => Fpu.Top;
}
