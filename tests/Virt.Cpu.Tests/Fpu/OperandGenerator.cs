using Virt.Cpu.Fpu;

namespace Virt.Cpu.Tests.Fpu;

/// <summary>Deterministic operands for the oracle tests: edge cases of every encoding class plus pseudo-random values.</summary>
internal sealed class OperandGenerator(ulong seed)
{
    private ulong _state = seed | 1;

    public static readonly Float80[] Specials =
    [
        Float80.PositiveZero,
        Float80.NegativeZero,
        Float80.One,
        Float80.One.Negate(),
        new(0x4000, 0x8000_0000_0000_0000), // 2
        new(0x3FFE, 0x8000_0000_0000_0000), // 0.5
        new(0x4000, 0xC000_0000_0000_0000), // 3
        new(0x3FFF, 0x8000_0000_0000_0001), // 1 + ulp
        new(0x3FFE, 0xFFFF_FFFF_FFFF_FFFF), // 1 − ulp/2
        new(0x7FFE, 0xFFFF_FFFF_FFFF_FFFF), // largest finite
        new(0xFFFE, 0xFFFF_FFFF_FFFF_FFFF),
        new(0x0001, 0x8000_0000_0000_0000), // smallest normal
        new(0x8001, 0x8000_0000_0000_0000),
        new(0x0000, 0x0000_0000_0000_0001), // smallest denormal
        new(0x0000, 0x7FFF_FFFF_FFFF_FFFF), // largest denormal
        new(0x8000, 0x4000_0000_0000_0000),
        new(0x0000, 0x8000_0000_0000_0001), // pseudo-denormal
        Float80.PositiveInfinity,
        Float80.NegativeInfinity,
        new(0x7FFF, 0xC000_0000_0000_0001), // QNaN
        new(0xFFFF, 0xC000_0000_1234_0000),
        new(0x7FFF, 0x8000_0000_0000_0001), // SNaN
        new(0xFFFF, 0xA000_0000_0000_0000),
        Float80.Indefinite,
        new(0x3FFF, 0x4000_0000_0000_0000), // unnormal
        new(0x7FFF, 0x0000_0000_0000_0000), // pseudo-infinity
        new(0x7FFF, 0x4000_0000_0000_0000), // pseudo-NaN
        new(0x403E, 0x8000_0000_0000_0000), // 2^63
        new(0xC03E, 0x8000_0000_0000_0000),
        new(0x401D, 0xFFFF_FFFF_0000_0000), // 2^31 − 1 region
        new(0x3FFF, 0xC000_0000_0000_0000), // 1.5
        new(0x4000, 0xA000_0000_0000_0000), // 2.5
        new(0x3FFF, 0x8000_0100_0000_0000), // float tie region
        new(0x3FFF, 0x8000_0000_0000_0400), // double tie region
        new(0x4000, 0xC90F_DAA2_2168_C235), // π
        new(0x3FFE, 0xC90F_DAA2_2168_C235), // π/4
    ];

    public ulong Next()
    {
        _state ^= _state >> 12;
        _state ^= _state << 25;
        _state ^= _state >> 27;
        return _state * 0x2545_F491_4F6C_DD1D;
    }

    public int Next(int bound) => (int)(Next() % (ulong)bound);

    public bool Chance(int percent) => Next(100) < percent;

    /// <summary>A normal value with exponent in [center − spread, center + spread] and a random or tie-prone significand.</summary>
    public Float80 Normal(int center = Float80.Bias, int spread = 40)
    {
        var exponent = Math.Clamp(center - spread + Next((2 * spread) + 1), 1, 0x7FFE);
        var significand = Next() | Float80.IntegerBit;
        switch (Next(6))
        {
            case 0:
                // Few significant bits: exact results and ties under PC/RC.
                significand &= ~((1UL << (8 + Next(50))) - 1);
                significand |= Float80.IntegerBit;
                break;
            case 1:
                // Just at or around a single/double rounding boundary.
                var boundary = Chance(50) ? 40 : 11;
                significand = (significand & ~((1UL << boundary) - 1)) | (1UL << (boundary - 1)) | (Chance(50) ? 0 : (Next() & 0xF));
                break;
        }

        return new Float80(Chance(50), exponent, significand);
    }

    /// <summary>Mostly normals near 1, sometimes specials or values near the exponent limits.</summary>
    public Float80 Any()
    {
        return Next(10) switch
        {
            0 or 1 => Specials[Next(Specials.Length)],
            2 => Normal(Chance(50) ? 0x7FFE - 20 : 20, 20),
            3 => new Float80(Chance(50), 0, Next() >> Next(64)),
            _ => Normal(),
        };
    }

    public ushort ControlWord(bool allowUnmasked, bool varyPrecision = true)
    {
        var rc = Next(4);
        var pc = varyPrecision ? (Next(3) switch { 0 => 0, 1 => 2, _ => 3 }) : 3;
        var masks = allowUnmasked && Chance(25) ? (int)(Next() & 0x3F) : 0x3F;
        return (ushort)(0x40 | (rc << 10) | (pc << 8) | masks);
    }

    public byte[] Memory(Func<OperandGenerator, byte[]> fill)
    {
        var memory = new byte[16];
        fill(this).CopyTo(memory, 0);
        return memory;
    }

    public byte[] Float32Bytes()
    {
        uint[] specials = [0, 0x8000_0000, 0x3F80_0000, 0x0000_0001, 0x807F_FFFF, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0001, 0x7F80_0001, 0x7F7F_FFFF];
        var value = Chance(30) ? specials[Next(specials.Length)] : (uint)(Next() & 0xBFFF_FFFF) | (Chance(50) ? 0x0000_0000u : 0x3800_0000u);
        return BitConverter.GetBytes(value);
    }

    public byte[] Float64Bytes()
    {
        ulong[] specials = [0, 0x8000_0000_0000_0000, 0x3FF0_0000_0000_0000, 1, 0x800F_FFFF_FFFF_FFFF, 0x7FF0_0000_0000_0000, 0x7FF8_0000_0000_0001, 0x7FF0_0000_0000_0001, 0x7FEF_FFFF_FFFF_FFFF];
        var value = Chance(30) ? specials[Next(specials.Length)] : (Next() & 0x3FFF_FFFF_FFFF_FFFF) | 0x3000_0000_0000_0000 | (Chance(50) ? 0x8000_0000_0000_0000 : 0);
        return BitConverter.GetBytes(value);
    }

    public byte[] IntBytes(int size)
    {
        var value = Next() >> Next(64);
        if (Chance(50))
        {
            value = 0 - value;
        }

        if (Chance(10))
        {
            value = 1UL << ((8 * size) - 1);
        }

        return BitConverter.GetBytes(value)[..size];
    }

    public byte[] BcdBytes()
    {
        var bytes = new byte[10];
        var digits = 1 + Next(18);
        for (var i = 0; i < digits; i++)
        {
            var digit = (byte)Next(10);
            bytes[i / 2] |= (byte)((i & 1) == 0 ? digit : digit << 4);
        }

        bytes[9] = Chance(50) ? (byte)0x80 : (byte)0;
        return bytes;
    }
}
