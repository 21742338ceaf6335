using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Virt.Cpu.Fpu;

namespace Virt.Cpu.Tests.Fpu;

/// <summary>One x87 instruction the oracle knows, by its exact encoding (memory forms address [eax]/[rax]).</summary>
internal sealed record OracleOp(string Name, byte[] Bytes, bool Transcendental = false);

/// <summary>
/// One oracle case: FNINIT, FLDCW Cw, push B (Depth−1) times then A, load EFLAGS and the memory
/// operand, run the instruction, then FNSAVE. Depth 0 leaves the stack empty.
/// </summary>
internal readonly record struct OracleCase(int Op, ushort Cw, uint Eflags, Float80 A, Float80 B, byte[] Memory, int Depth = 2);

internal sealed record OracleResult(byte[] Save, byte[] Memory, uint Eflags, ushort Ax);

/// <summary>
/// The host CPU's x87 as reference: a C program generated from <see cref="Ops"/>, compiled with gcc
/// once per test run, runs each case inside one inline-asm block ending in FNSAVE (a no-wait
/// instruction, so unmasked exceptions can be observed without a trap).
/// </summary>
internal static class HostX87Oracle
{
    public const int RecordIn = 64;
    public const int RecordOut = 144;
    public const uint FlagsMask = 0x8D5;

    public static readonly OracleOp[] Ops =
    [
        new("fadd st0,st1", [0xD8, 0xC1]),
        new("fsub st0,st1", [0xD8, 0xE1]),
        new("fsubr st0,st1", [0xD8, 0xE9]),
        new("fmul st0,st1", [0xD8, 0xC9]),
        new("fdiv st0,st1", [0xD8, 0xF1]),
        new("fdivr st0,st1", [0xD8, 0xF9]),
        new("fadd st1,st0", [0xDC, 0xC1]),
        new("fsub st1,st0", [0xDC, 0xE9]),
        new("fsubr st1,st0", [0xDC, 0xE1]),
        new("fdiv st1,st0", [0xDC, 0xF9]),
        new("fdivr st1,st0", [0xDC, 0xF1]),
        new("faddp st1,st0", [0xDE, 0xC1]),
        new("fmulp st1,st0", [0xDE, 0xC9]),
        new("fsubp st1,st0", [0xDE, 0xE9]),
        new("fsubrp st1,st0", [0xDE, 0xE1]),
        new("fdivp st1,st0", [0xDE, 0xF9]),
        new("fdivrp st1,st0", [0xDE, 0xF1]),
        new("fadd m32", [0xD8, 0x00]),
        new("fmul m64", [0xDC, 0x08]),
        new("fdivr m64", [0xDC, 0x38]),
        new("fiadd m16", [0xDE, 0x00]),
        new("fisubr m32", [0xDA, 0x28]),
        new("fidiv m32", [0xDA, 0x30]),
        new("fsqrt", [0xD9, 0xFA]),
        new("frndint", [0xD9, 0xFC]),
        new("fscale", [0xD9, 0xFD]),
        new("fxtract", [0xD9, 0xF4]),
        new("fprem", [0xD9, 0xF8]),
        new("fprem1", [0xD9, 0xF5]),
        new("fchs", [0xD9, 0xE0]),
        new("fabs", [0xD9, 0xE1]),
        new("fcom st1", [0xD8, 0xD1]),
        new("fcomp st1", [0xD8, 0xD9]),
        new("fcompp", [0xDE, 0xD9]),
        new("fucom st1", [0xDD, 0xE1]),
        new("fucompp", [0xDA, 0xE9]),
        new("fcomi st1", [0xDB, 0xF1]),
        new("fucomip st1", [0xDF, 0xE9]),
        new("ftst", [0xD9, 0xE4]),
        new("fxam", [0xD9, 0xE5]),
        new("fcom m64", [0xDC, 0x10]),
        new("ficomp m16", [0xDE, 0x18]),
        new("fcmovb", [0xDA, 0xC1]),
        new("fcmove", [0xDA, 0xC9]),
        new("fcmovbe", [0xDA, 0xD1]),
        new("fcmovu", [0xDA, 0xD9]),
        new("fcmovnb", [0xDB, 0xC1]),
        new("fcmovnu", [0xDB, 0xD9]),
        new("fst m32", [0xD9, 0x10]),
        new("fstp m64", [0xDD, 0x18]),
        new("fstp m80", [0xDB, 0x38]),
        new("fist m16", [0xDF, 0x10]),
        new("fistp m32", [0xDB, 0x18]),
        new("fistp m64", [0xDF, 0x38]),
        new("fisttp m32", [0xDB, 0x08]),
        new("fbstp m80", [0xDF, 0x30]),
        new("fld m32", [0xD9, 0x00]),
        new("fld m64", [0xDD, 0x00]),
        new("fld m80", [0xDB, 0x28]),
        new("fild m16", [0xDF, 0x00]),
        new("fild m64", [0xDF, 0x28]),
        new("fbld m80", [0xDF, 0x20]),
        new("fld1", [0xD9, 0xE8]),
        new("fldl2t", [0xD9, 0xE9]),
        new("fldl2e", [0xD9, 0xEA]),
        new("fldpi", [0xD9, 0xEB]),
        new("fldlg2", [0xD9, 0xEC]),
        new("fldln2", [0xD9, 0xED]),
        new("fldz", [0xD9, 0xEE]),
        new("fxch st1", [0xD9, 0xC9]),
        new("fld st1", [0xD9, 0xC1]),
        new("fst st1", [0xDD, 0xD1]),
        new("fstp st1", [0xDD, 0xD9]),
        new("ffree st1", [0xDD, 0xC1]),
        new("ffreep st1", [0xDF, 0xC1]),
        new("fincstp", [0xD9, 0xF7]),
        new("fdecstp", [0xD9, 0xF6]),
        new("fnstsw ax", [0xDF, 0xE0]),
        new("fnclex", [0xDB, 0xE2]),
        new("f2xm1", [0xD9, 0xF0], true),
        new("fyl2x", [0xD9, 0xF1], true),
        new("fptan", [0xD9, 0xF2], true),
        new("fpatan", [0xD9, 0xF3], true),
        new("fyl2xp1", [0xD9, 0xF9], true),
        new("fsin", [0xD9, 0xFE], true),
        new("fcos", [0xD9, 0xFF], true),
        new("fsincos", [0xD9, 0xFB], true),
    ];

    private static readonly Lazy<string> Executable = new(Compile, LazyThreadSafetyMode.ExecutionAndPublication);

    public static int IndexOf(string name)
    {
        var index = Array.FindIndex(Ops, op => op.Name == name);
        return index >= 0 ? index : throw new ArgumentException($"unknown oracle op {name}");
    }

    public static OracleResult[] Run(IReadOnlyList<OracleCase> cases)
    {
        var exe = Executable.Value;
        var directory = Path.GetDirectoryName(exe)!;
        var id = Guid.NewGuid().ToString("N");
        var input = Path.Combine(directory, id + ".in");
        var output = Path.Combine(directory, id + ".out");
        var buffer = new byte[cases.Count * RecordIn];
        for (var i = 0; i < cases.Count; i++)
        {
            var record = buffer.AsSpan(i * RecordIn, RecordIn);
            var c = cases[i];
            BitConverter.TryWriteBytes(record, (uint)c.Op);
            BitConverter.TryWriteBytes(record[4..], c.Cw);
            BitConverter.TryWriteBytes(record[6..], (ushort)c.Depth);
            BitConverter.TryWriteBytes(record[8..], (ulong)((c.Eflags & FlagsMask) | 2));
            c.A.WriteTo(record[16..]);
            c.B.WriteTo(record[32..]);
            c.Memory.AsSpan(0, 16).CopyTo(record[48..]);
        }

        File.WriteAllBytes(input, buffer);
        try
        {
            RunProcess(exe, [input, output], TimeSpan.FromSeconds(60));
            var bytes = File.ReadAllBytes(output);
            if (bytes.Length != cases.Count * RecordOut)
            {
                throw new InvalidOperationException($"oracle produced {bytes.Length} bytes for {cases.Count} cases");
            }

            var results = new OracleResult[cases.Count];
            for (var i = 0; i < cases.Count; i++)
            {
                var record = bytes.AsSpan(i * RecordOut, RecordOut);
                results[i] = new OracleResult(
                    record[..108].ToArray(),
                    record[112..128].ToArray(),
                    (uint)BitConverter.ToUInt64(record[128..]) & FlagsMask,
                    (ushort)BitConverter.ToUInt64(record[136..]));
            }

            return results;
        }
        finally
        {
            File.Delete(input);
            File.Delete(output);
        }
    }

    private static string Compile()
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            throw new InvalidOperationException("The x87 oracle needs an x86-64 host.");
        }

        var gcc = FindOnPath("gcc") ?? throw new InvalidOperationException(
            "gcc is required for the x87 hardware-oracle tests but was not found on PATH (install it: apt-get install gcc).");
        var directory = Path.Combine(Path.GetTempPath(), "virt-x87-oracle-" + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: a leftover temp directory is harmless.
            }
        };
        var source = Path.Combine(directory, "oracle.c");
        var exe = Path.Combine(directory, "oracle");
        File.WriteAllText(source, GenerateSource());
        RunProcess(gcc, ["-O0", "-mno-red-zone", "-o", exe, source], TimeSpan.FromSeconds(60));
        return exe;
    }

    private static string GenerateSource()
    {
        var switchBody = new StringBuilder();
        for (var i = 0; i < Ops.Length; i++)
        {
            var bytes = string.Join(",", Ops[i].Bytes.Select(b => $"0x{b:x2}"));
            switchBody.Append($"      case {i}: OP(\".byte {bytes}\"); break; /* {Ops[i].Name} */\n");
        }

        return """
            #include <stdio.h>
            #include <stdint.h>
            #include <string.h>
            struct in_rec { uint32_t op; uint16_t cw; uint16_t depth; uint64_t flags; uint8_t a[16]; uint8_t b[16]; uint8_t mem[16]; };
            struct out_rec { uint8_t save[108]; uint8_t pad[4]; uint8_t mem[16]; uint64_t flags; uint64_t rax; };
            #define OP(bytes) __asm__ volatile( \
                "push %[fl]\n\tpopfq\n\t" \
                "mov %[mem], %%rax\n\t" \
                bytes "\n\t" \
                "pushfq\n\tpop %[flo]\n\t" \
                "mov %%rax, %[raxo]\n\t" \
                "fnsave %[save]\n\t" \
                : [flo] "=&r"(flo), [raxo] "=&r"(raxo), [save] "=m"(out.save) \
                : [fl] "r"(in.flags), [mem] "r"(mem) \
                : "rax", "memory", "cc")
            int main(int argc, char **argv) {
              if (argc != 3) return 2;
              FILE *fi = fopen(argv[1], "rb");
              FILE *fo = fopen(argv[2], "wb");
              if (!fi || !fo) return 3;
              struct in_rec in;
              struct out_rec out;
              while (fread(&in, sizeof in, 1, fi) == 1) {
                uint8_t mem[64];
                uint64_t flo = 0, raxo = 0;
                memset(&out, 0, sizeof out);
                memset(mem, 0, sizeof mem);
                memcpy(mem, in.mem, 16);
                /* Zero every physical register first: the emulator's stale contents are +0 (FXAM reads them). */
                __asm__ volatile("fninit\n\tfldz\n\tfldz\n\tfldz\n\tfldz\n\tfldz\n\tfldz\n\tfldz\n\tfldz\n\tfninit\n\tfldcw %0" :: "m"(in.cw));
                for (int i = 0; i + 1 < in.depth; i++) __asm__ volatile("fldt %0" :: "m"(*(long double *)in.b));
                if (in.depth > 0) __asm__ volatile("fldt %0" :: "m"(*(long double *)in.a));
                switch (in.op) {
            """ + "\n" + switchBody + """
                  default: return 4;
                }
                memcpy(out.mem, mem, 16);
                out.flags = flo;
                out.rax = raxo;
                if (fwrite(&out, sizeof out, 1, fo) != 1) return 5;
              }
              fclose(fo);
              return 0;
            }
            """;
    }

    private static string? FindOnPath(string name)
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            var candidate = Path.Combine(directory, name);
            if (directory.Length > 0 && File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static void RunProcess(string file, string[] arguments, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill();
            throw new TimeoutException($"{file} did not finish within {timeout}");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}: {stderr.Result}{stdout.Result}");
        }
    }
}
