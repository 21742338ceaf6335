using System.Buffers.Binary;
using System.Text;
using Virt.Cpu.Fpu;

namespace Virt.Cpu.Tests.Fpu;

/// <summary>Runs oracle cases through <see cref="X87Fpu"/> and compares the FNSAVE images with the host's.</summary>
internal static class OracleComparer
{
    /// <summary>Status bits compared for transcendentals: C1 and PE reflect the hardware's own last-bit rounding.</summary>
    private const ushort TranscendentalStatusMask = unchecked((ushort)~(0x0200 | 0x0020));

    public static OracleResult Emulate(OracleCase c)
    {
        var runner = new FpuRunner();
        runner.SetControlWord(c.Cw);
        for (var i = 0; i + 1 < c.Depth; i++)
        {
            runner.Push(c.B);
        }

        if (c.Depth > 0)
        {
            runner.Push(c.A);
        }

        runner.Memory = new byte[512];
        c.Memory.AsSpan(0, 16).CopyTo(runner.Memory);
        runner.Context.Eflags = (c.Eflags & HostX87Oracle.FlagsMask) | 2;
        runner.Context.Ax = 0;
        var outcome = runner.Run(HostX87Oracle.Ops[c.Op].Bytes);
        if (outcome != X87Outcome.Completed)
        {
            throw new InvalidOperationException($"{HostX87Oracle.Ops[c.Op].Name}: outcome {outcome}");
        }

        var memory = runner.Memory.AsSpan(0, 16).ToArray();
        var eflags = runner.Context.Eflags & HostX87Oracle.FlagsMask;
        var ax = runner.Context.Ax;
        runner.Memory = new byte[512];
        runner.Run(0xDD, 0x30);
        return new OracleResult(runner.Memory.AsSpan(0, 108).ToArray(), memory, eflags, ax);
    }

    /// <summary>Runs all cases on both sides; returns a report of the first mismatches (empty when all agree).</summary>
    public static string Compare(IReadOnlyList<OracleCase> cases, int ulpTolerance = 1)
    {
        var expected = HostX87Oracle.Run(cases);
        var report = new StringBuilder();
        var failures = 0;
        for (var i = 0; i < cases.Count; i++)
        {
            var actual = Emulate(cases[i]);
            var difference = Difference(cases[i], expected[i], actual, ulpTolerance);
            if (difference is null)
            {
                continue;
            }

            failures++;
            if (failures <= 12)
            {
                var c = cases[i];
                report.AppendLine($"{HostX87Oracle.Ops[c.Op].Name} cw={c.Cw:X4} depth={c.Depth} a={c.A} b={c.B} mem={Convert.ToHexString(c.Memory)} flags={c.Eflags:X3}: {difference}");
            }
        }

        if (failures > 0)
        {
            report.Insert(0, $"{failures} of {cases.Count} cases differ from the host x87:\n");
        }

        return report.ToString();
    }

    private static string? Difference(OracleCase c, OracleResult host, OracleResult emulated, int ulpTolerance)
    {
        var transcendental = HostX87Oracle.Ops[c.Op].Transcendental;
        var statusMask = transcendental ? TranscendentalStatusMask : (ushort)0xFFFF;
        var hostCw = BinaryPrimitives.ReadUInt16LittleEndian(host.Save);
        var ourCw = BinaryPrimitives.ReadUInt16LittleEndian(emulated.Save);
        var hostSw = BinaryPrimitives.ReadUInt16LittleEndian(host.Save.AsSpan(4));
        var ourSw = BinaryPrimitives.ReadUInt16LittleEndian(emulated.Save.AsSpan(4));
        var hostTw = BinaryPrimitives.ReadUInt16LittleEndian(host.Save.AsSpan(8));
        var ourTw = BinaryPrimitives.ReadUInt16LittleEndian(emulated.Save.AsSpan(8));
        if (hostCw != ourCw)
        {
            return $"CW host {hostCw:X4} ours {ourCw:X4}";
        }

        if ((hostSw & statusMask) != (ourSw & statusMask))
        {
            return $"SW host {hostSw:X4} ours {ourSw:X4}" + RegisterDump(host, emulated);
        }

        if (hostTw != ourTw)
        {
            return $"TW host {hostTw:X4} ours {ourTw:X4}" + RegisterDump(host, emulated);
        }

        var top = (hostSw >> 11) & 7;
        for (var i = 0; i < 8; i++)
        {
            var physical = (top + i) & 7;
            if (((hostTw >> (2 * physical)) & 3) == 3)
            {
                continue;
            }

            var h = Float80.FromBytes(host.Save.AsSpan(28 + (10 * i), 10));
            var o = Float80.FromBytes(emulated.Save.AsSpan(28 + (10 * i), 10));
            if (h == o)
            {
                continue;
            }

            if (transcendental && UlpDistance(h, o) <= (ulong)ulpTolerance)
            {
                continue;
            }

            return $"ST({i}) host {h} ours {o}";
        }

        if (!host.Memory.AsSpan().SequenceEqual(emulated.Memory))
        {
            return $"memory host {Convert.ToHexString(host.Memory)} ours {Convert.ToHexString(emulated.Memory)}";
        }

        if (host.Eflags != emulated.Eflags)
        {
            return $"EFLAGS host {host.Eflags:X3} ours {emulated.Eflags:X3}";
        }

        if (HostX87Oracle.Ops[c.Op].Name == "fnstsw ax" && host.Ax != emulated.Ax)
        {
            return $"AX host {host.Ax:X4} ours {emulated.Ax:X4}";
        }

        return null;
    }

    private static string RegisterDump(OracleResult host, OracleResult emulated) =>
        $" (ST0 host {Float80.FromBytes(host.Save.AsSpan(28, 10))} ours {Float80.FromBytes(emulated.Save.AsSpan(28, 10))})";

    /// <summary>Distance in units of the last place between two finite values of the same sign (ulong.MaxValue otherwise).</summary>
    public static ulong UlpDistance(Float80 a, Float80 b)
    {
        if (a.Sign != b.Sign || a.IsNaN || b.IsNaN || a.Exponent == Float80.MaxExponent || b.Exponent == Float80.MaxExponent)
        {
            return ulong.MaxValue;
        }

        // Normal values are consecutive in (exponent, significand-without-J) order, like IEEE bit patterns.
        static UInt128 Key(Float80 x) => ((UInt128)(uint)x.Exponent << 63) | (x.Significand & 0x7FFF_FFFF_FFFF_FFFF);
        var ka = Key(a);
        var kb = Key(b);
        var distance = ka > kb ? ka - kb : kb - ka;
        return distance > ulong.MaxValue ? ulong.MaxValue : (ulong)distance;
    }
}
