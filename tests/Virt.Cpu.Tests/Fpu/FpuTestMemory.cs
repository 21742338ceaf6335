using System.Buffers.Binary;
using Virt.Cpu.Fpu;

namespace Virt.Cpu.Tests.Fpu;

/// <summary>An x87 memory operand over a byte array, starting at <see cref="Base"/>; records whether anything was written.</summary>
internal sealed class FpuTestMemory(byte[] bytes, int @base = 0) : IX87Memory
{
    public byte[] Bytes { get; } = bytes;
    public int Base { get; } = @base;
    public int Writes { get; private set; }

    public byte Read8(uint offset) => Bytes[Base + (int)offset];
    public ushort Read16(uint offset) => BinaryPrimitives.ReadUInt16LittleEndian(Bytes.AsSpan(Base + (int)offset));
    public uint Read32(uint offset) => BinaryPrimitives.ReadUInt32LittleEndian(Bytes.AsSpan(Base + (int)offset));
    public ulong Read64(uint offset) => BinaryPrimitives.ReadUInt64LittleEndian(Bytes.AsSpan(Base + (int)offset));

    public void Write8(uint offset, byte value)
    {
        Bytes[Base + (int)offset] = value;
        Writes++;
    }

    public void Write16(uint offset, ushort value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(Bytes.AsSpan(Base + (int)offset), value);
        Writes++;
    }

    public void Write32(uint offset, uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(Bytes.AsSpan(Base + (int)offset), value);
        Writes++;
    }

    public void Write64(uint offset, ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(Bytes.AsSpan(Base + (int)offset), value);
        Writes++;
    }
}
