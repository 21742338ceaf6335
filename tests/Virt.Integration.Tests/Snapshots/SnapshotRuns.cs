using System.Globalization;
using Virt.Integration.Tests.DeviceModels;
using Virt.Integration.Tests.Support;

namespace Virt.Integration.Tests.Snapshots;

/// <summary>The counter guest with its console in a file (raw bytes: a line cut by a save stays cut), and `virt save` against it.</summary>
public static class SnapshotRuns
{
    public static string Vm(VirtRun run) => run.Pid.ToString(CultureInfo.InvariantCulture);

    /// <summary>What the guest has written to its console file so far (read while virt-dm still writes it).</summary>
    public static string Console(string path)
    {
        if (!File.Exists(path)) return "";
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var r = new StreamReader(f);
        return r.ReadToEnd();
    }

    public static int Lines(string path) => Console(path).Count(c => c == '\n');

    /// <summary>Starts the counter guest printing to <paramref name="serialFile"/> and waits for some lines.</summary>
    public static async Task<VirtRun> StartCounterAsync(string serialFile, params string[] extra)
    {
        string kernel = TempDir.WriteImage(DeviceModelGuests.CounterForever());
        var run = VirtRun.Start(["run", "--kernel", kernel, "--serial", $"file:{serialFile}", .. extra]);
        await MoreLinesAsync(run, serialFile, 30);
        return run;
    }

    public static async Task MoreLinesAsync(VirtRun run, string serialFile, int lines)
    {
        int before = Lines(serialFile);
        await run.WaitUntilAsync(() => Lines(serialFile) > before + lines, $"{lines} more lines in {serialFile}");
    }

    public static Task<(int Status, string Stdout, string Stderr)> SaveAsync(VirtRun run, string file, bool stop = false) =>
        stop ? VirtCli.RunAsync(run.RuntimeDir, "save", Vm(run), file, "--and-stop") : VirtCli.RunAsync(run.RuntimeDir, "save", Vm(run), file);

    /// <summary>
    /// Asserts that <paramref name="text"/> is the counter from 0, line after line, byte for byte (the last
    /// line may be cut off); returns how many complete lines it has.
    /// </summary>
    public static int AssertCounter(string text, string context)
    {
        string[] lines = text.Split("\r\n");
        int complete = lines.Length - 1;
        for (int i = 0; i < complete; i++)
            Assert.True(lines[i] == i.ToString("X8", CultureInfo.InvariantCulture),
                $"line {i}: '{lines[i]}' (around it: {string.Join("|", lines[Math.Max(0, i - 2)..Math.Min(complete, i + 3)])})\n{context}");
        // The run was interrupted somewhere in the next line: what there is of it is its start.
        string next = complete.ToString("X8", CultureInfo.InvariantCulture) + "\r";
        Assert.True(next.StartsWith(lines[^1], StringComparison.Ordinal), $"a stray tail '{lines[^1]}' where line {complete} began\n{context}");
        return complete;
    }
}
