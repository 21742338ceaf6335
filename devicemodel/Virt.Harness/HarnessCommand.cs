using System.CommandLine;
using Virt.CommandLine;

namespace Virt.Harness;

/// <summary>virt-harness's command line: its options, help and examples; the action gets the parsed options.</summary>
public static class HarnessCommand
{
    public const string Description = """
        virt-harness: a device model for test guests: a debug console (default port 0xE9, to stdout), an exit
        port (default 0xF4: the guest writes v, virt run ends with (v << 1) | 1) and a scratch MMIO region
        (default 0xFED00000, 4 KiB); on request a text buffer in shared memory and a constant port range, the
        side-effect-free regions of docs/placements.md. Numbers are hex with 0x or decimal. Started by
        `virt run --dm virt-harness` or `virt attach VM --dm virt-harness`.
        """;

    private static readonly Option<string?> s_socket = LastValueOption.Text("--socket", "PATH", "the monitor's control socket (default: VIRT_DM_SOCKET, which virt run and virt attach set)");

    private static readonly Option<PortOrNone> s_debugConsole = LastValueOption.Create("--debugcon", "PORT|none", "the debug console's port (default 0xE9), or none", ParsePort);

    private static readonly Option<PortOrNone> s_exitPort = LastValueOption.Create("--exit", "PORT|none", "the exit port (default 0xF4), or none", ParsePort);

    private static readonly Option<(ulong? Start, int Size)> s_scratch = LastValueOption.Create("--scratch", "ADDRESS[:SIZE]|none",
        "the scratch MMIO region (default 0xFED00000:4096; SIZE up to 1 MiB, default 4 KiB), or none", Scratch);

    private static readonly Option<(ulong Address, ushort RenderPort)?> s_textBuffer = LastValueOption.Create<(ulong Address, ushort RenderPort)?>("--text-buffer", "ADDRESS:PORT",
        "a VGA-style text buffer (80x25 character and attribute cells) at ADDRESS (a page in 0xA0000-0xBFFFF, e.g. 0xB8000) in memory shared with the guest, "
        + "written with no exit; a write to PORT prints its rows that are not blank (default: none)", TextBufferOption);

    private static readonly Option<(ushort First, ushort Count, uint Value)?> s_constant = LastValueOption.Create<(ushort First, ushort Count, uint Value)?>("--constant", "PORT[:COUNT]=VALUE",
        "COUNT ports (default 1) from PORT that the monitor answers with VALUE forever, dropping writes: no access reaches this process (default: none)", ConstantOption);

    private static readonly Option<string?> s_name = LastValueOption.Text("--name", "NAME", "the name the monitor shows for this model (default virt-harness)");

    public static RootCommand Create(Func<HarnessOptions, Task<int>> run)
    {
        var root = new RootCommand(Description) { s_socket, s_debugConsole, s_exitPort, s_scratch, s_textBuffer, s_constant, s_name };
        root.SetAction((result, _) =>
        {
            // An option left out keeps its default; one given as none is null.
            ushort? debugConsole = result.GetResult(s_debugConsole) is null ? (ushort)0xE9 : result.GetValue(s_debugConsole).Port;
            ushort? exitPort = result.GetResult(s_exitPort) is null ? (ushort)0xF4 : result.GetValue(s_exitPort).Port;
            (ulong? start, int size) = result.GetResult(s_scratch) is null ? (0xFED0_0000, 4096) : result.GetValue(s_scratch);
            return run(new HarnessOptions(result.GetValue(s_socket), debugConsole, exitPort, start, size, result.GetValue(s_name) ?? "virt-harness")
            {
                TextBuffer = result.GetValue(s_textBuffer),
                Constant = result.GetValue(s_constant),
            });
        });
        return root.WithExamples(
            "virt run --demo --dm \"virt-dm --devices com1,rtc\" --dm virt-harness",
            "virt run --demo --dm virt-dm --dm \"virt-harness --debugcon none --exit none --scratch 0xFEC10000:8192\"",
            "virt run --demo --dm virt-dm --dm \"virt-harness --debugcon none --exit none --text-buffer 0xB8000:0x510 --constant 0x2F8:8=0xFF\"");
    }

    private static PortOrNone ParsePort(string v) => new(v == "none" ? null : (ushort)HexOrDecimal.Parse(v, 0xFFFF));

    /// <summary>A port, or none; a value, since System.CommandLine takes a parser's null for "no value".</summary>
    private readonly record struct PortOrNone(ushort? Port);

    private static (ulong Address, ushort RenderPort)? TextBufferOption(string v)
    {
        string[] parts = v.Split(':');
        if (parts.Length != 2) throw new UsageException($"--text-buffer {v}: expected ADDRESS:PORT, e.g. 0xB8000:0x510");
        return (HexOrDecimal.Parse(parts[0], 0xFFFF_FFFF), (ushort)HexOrDecimal.Parse(parts[1], 0xFFFF));
    }

    private static (ushort First, ushort Count, uint Value)? ConstantOption(string v)
    {
        string[] sides = v.Split('=');
        if (sides.Length != 2) throw new UsageException($"--constant {v}: expected PORT[:COUNT]=VALUE, e.g. 0x2F8:8=0xFF");
        string[] range = sides[0].Split(':');
        ushort first = (ushort)HexOrDecimal.Parse(range[0], 0xFFFF);
        // At most to port 0xFFFF (and 0xFFFF ports, so the count fits its u16).
        ushort count = range.Length > 1 ? (ushort)HexOrDecimal.Parse(range[1], (ulong)Math.Min(0x10000 - first, 0xFFFF)) : (ushort)1;
        if (count == 0) throw new UsageException($"--constant {v}: COUNT must be at least 1");
        return (first, count, (uint)HexOrDecimal.Parse(sides[1], 0xFFFF_FFFF));
    }

    private static (ulong? Start, int Size) Scratch(string v)
    {
        if (v == "none") return (null, 4096);
        string[] parts = v.Split(':');
        ulong start = HexOrDecimal.Parse(parts[0], 0xFFFF_FFFF);
        int size = parts.Length > 1 ? (int)HexOrDecimal.Parse(parts[1], 1 << 20) : 4096;
        return (start, size);
    }
}
