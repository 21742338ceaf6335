using System.IO.Compression;
using System.Text.Json;

namespace Virt.Cpu.Tests.Vectors;

/// <summary>One SingleStepTests case: a single instruction's initial and final machine state.</summary>
public sealed class VectorCase
{
    public int Idx { get; set; }
    public string Name { get; set; } = "";
    public int[] Bytes { get; set; } = [];
    public VectorState Initial { get; set; } = new();
    public VectorState Final { get; set; } = new();
    public string Hash { get; set; } = "";
}

public sealed class VectorState
{
    /// <summary>ax bx cx dx cs ss ds es sp bp si di ip flags; final holds only the changed ones.</summary>
    public Dictionary<string, int> Regs { get; set; } = new();

    /// <summary>[physical address, byte] pairs.</summary>
    public int[][] Ram { get; set; } = [];
}

internal static class VectorFiles
{
    private static readonly JsonSerializerOptions s_json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>
    /// The vector directory: $VIRT_CPU_VECTORS, else ../shared/cpu-vectors/80286-real beside the
    /// repository root (the folder holding Virt.sln, found by walking up from the test assembly).
    /// </summary>
    public static string Directory
    {
        get
        {
            string? env = Environment.GetEnvironmentVariable("VIRT_CPU_VECTORS");
            if (!string.IsNullOrEmpty(env)) return env;
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir != null && !File.Exists(Path.Combine(dir.FullName, "Virt.sln"))) dir = dir.Parent;
            string root = dir?.FullName ?? AppContext.BaseDirectory;
            return Path.GetFullPath(Path.Combine(root, "..", "shared", "cpu-vectors", "80286-real"));
        }
    }

    /// <summary>File keys ("00", "80.4", ...) in name order.</summary>
    public static IReadOnlyList<string> Keys()
    {
        string d = Directory;
        if (!System.IO.Directory.Exists(d)) return [];
        return System.IO.Directory.GetFiles(d, "*.json.gz")
            .Select(f => Path.GetFileName(f)[..^".json.gz".Length])
            .Order(StringComparer.Ordinal)
            .ToArray();
    }

    public static VectorCase[] Load(string key)
    {
        using var fs = File.OpenRead(Path.Combine(Directory, key + ".json.gz"));
        using var gz = new GZipStream(fs, CompressionMode.Decompress);
        return JsonSerializer.Deserialize<VectorCase[]>(gz, s_json) ?? [];
    }

    public static HashSet<string> Revoked()
    {
        string p = Path.Combine(Directory, "revocation_list.txt");
        if (!File.Exists(p)) return [];
        return File.ReadAllLines(p).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToHashSet(StringComparer.OrdinalIgnoreCase);
    }
}
