using System.Globalization;

namespace Virt.Harness;

/// <summary>Command line of virt-harness: which of its three devices to claim, and where.</summary>
public sealed record HarnessOptions(string? Socket, ushort? DebugConsole, ushort? ExitPort, ulong? ScratchStart, int ScratchSize, string Name)
{
    public const string Usage = """
        usage: virt-harness [--socket PATH] [--debugcon PORT|none] [--exit PORT|none]
                            [--scratch ADDRESS[:SIZE]|none] [--name NAME]
          A device model for test guests: a debug console (default port 0xE9, to stdout), an exit
          port (default 0xF4: the guest writes v, virt run ends with (v << 1) | 1) and a scratch
          MMIO region (default 0xFED00000, 4 KiB). Numbers are hex with 0x or decimal.
          Started by `virt run --dm virt-harness` or `virt attach VM --dm virt-harness`.
        """;

    public static HarnessOptions Parse(string[] args)
    {
        var o = new HarnessOptions(null, 0xE9, 0xF4, 0xFED0_0000, 4096, "virt-harness");
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{a} needs a value\n{Usage}");
            o = a switch
            {
                "--socket" => o with { Socket = Next() },
                "--debugcon" => o with { DebugConsole = Next() is var v && v == "none" ? null : (ushort)Number(v, 0xFFFF) },
                "--exit" => o with { ExitPort = Next() is var v && v == "none" ? null : (ushort)Number(v, 0xFFFF) },
                "--scratch" => Scratch(o, Next()),
                "--name" => o with { Name = Next() },
                "-h" or "--help" => throw new ArgumentException(Usage),
                _ => throw new ArgumentException($"unknown option {a}\n{Usage}"),
            };
        }
        return o;
    }

    private static HarnessOptions Scratch(HarnessOptions o, string v)
    {
        if (v == "none") return o with { ScratchStart = null };
        string[] parts = v.Split(':');
        ulong start = Number(parts[0], 0xFFFF_FFFF);
        int size = parts.Length > 1 ? (int)Number(parts[1], 1 << 20) : 4096;
        return o with { ScratchStart = start, ScratchSize = size };
    }

    private static ulong Number(string s, ulong max)
    {
        bool ok = s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(s.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong v)
            : ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v);
        return ok && v <= max ? v : throw new ArgumentException($"'{s}' is not a number up to 0x{max:X}");
    }
}
