using System.Globalization;
using System.Text.RegularExpressions;

namespace Virt.Monitor.Bench;

/// <summary>
/// `virt bench snapshot`: the same Linux guest (kernel and the interactive initramfs: a shell on the
/// console) booted to its prompt, saved and restored under this monitor (`virt save --and-stop`,
/// `virt run --restore`) and under QEMU TCG (HMP `stop` and `migrate "exec:cat > FILE"`; `-incoming
/// "exec:cat FILE"` and `cont`: QEMU's savevm needs a qcow2 disk, this guest has none), in one run:
/// the file, the save, the time to a running guest and to a shell that answers a line typed at once. Beside each,
/// the restore into a process already started and waiting (SnapshotBenchmark.Waiting.cs), as Firecracker and QEMU time theirs.
/// </summary>
public static partial class SnapshotBenchmark
{
    private const string Prompt = "/ # ";
    private const string Typed = "echo VIRT-RESTORED-$((6*7))\n", Answer = "VIRT-RESTORED-42";

    /// <summary>One restore: to a running guest and to the typed line's answer, both from the process's start.</summary>
    public sealed record Restore(TimeSpan Running, TimeSpan Answered, TimeSpan? ModelsReady);

    public sealed record Result(string Row, long FileBytes, long DataBytes, TimeSpan Save, TimeSpan Paused, Restore Median);

    public static async Task<int> RunAsync(string kernel, string initrd, string append, int runs, bool qemu, int timeoutSeconds)
    {
        foreach (string f in new[] { kernel, initrd })
            if (!File.Exists(f)) throw new ArgumentException($"{f} does not exist (run scripts/fetch-guest.sh, or give --kernel/--initrd)");
        var timeout = TimeSpan.FromSeconds(timeoutSeconds);
        string dir = Path.Combine(Path.GetTempPath(), $"virt-bench-snapshot-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        Console.Error.WriteLine($"virt bench snapshot: {Path.GetFileName(kernel)} + {Path.GetFileName(initrd)}, 256 MiB, saved at the shell prompt, {runs} restore(s) per row, "
            + $"{Environment.ProcessorCount} CPUs, load average {LoadAverage()}");
        try
        {
            Result saved = await VirtAsync(kernel, initrd, append, Path.Combine(dir, "virt.snap"), runs, timeout);
            var results = new List<Result> { saved, await VirtIncomingAsync(saved, Path.Combine(dir, "virt.snap"), runs, timeout) };
            if (qemu)
            {
                Result qemuSaved = await QemuAsync(kernel, initrd, append, dir, runs, timeout);
                results.Add(qemuSaved);
                results.Add(await QemuIncomingAsync(qemuSaved, kernel, initrd, append, dir, runs, timeout));
            }
            Print(results);
            return 0;
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException or System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine($"virt bench snapshot: {e.Message}");
            return 1;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task<Result> VirtAsync(string kernel, string initrd, string append, string file, int runs, TimeSpan timeout)
    {
        long fileBytes, dataBytes;
        TimeSpan save, paused;
        using (ConsoleProcess vm = ConsoleProcess.StartVirt(["run", "-q", "-m", "256M", "--kernel", kernel, "--initrd", initrd, "--append", append]))
        {
            await AtPromptAsync(vm, timeout);
            using ConsoleProcess saver = ConsoleProcess.StartVirt(["save", vm.Pid.ToString(CultureInfo.InvariantCulture), file, "--and-stop"]);
            if (await saver.WaitForExitAsync(timeout) != 0) throw new InvalidOperationException($"virt save failed: {saver.Stderr}{saver.Stdout}");
            Match m = SavedLine().Match(saver.Stdout);
            if (!m.Success) throw new InvalidOperationException($"virt save said: {saver.Stdout}");
            (fileBytes, dataBytes) = (new FileInfo(file).Length, (long)(Mib(m.Groups["data"].Value) * 1048576));
            (save, paused) = (Ms(m.Groups["save"].Value), Ms(m.Groups["paused"].Value));
            await vm.WaitForExitAsync(timeout);
        }
        var restores = new List<Restore>();
        for (int r = 0; r < runs; r++)
        {
            using ConsoleProcess vm = ConsoleProcess.StartVirt(["run", "--restore", file]);
            vm.Type(Typed); // typed at once: virt's console holds it until the guest's UART is there again
            await vm.WaitForAsync(() => RestoredLine().IsMatch(vm.Stderr), "the restore", timeout);
            TimeSpan answered = await vm.WaitForOutputAsync(Answer, timeout);
            await vm.WaitForAsync(() => ModelsReadyLine().IsMatch(vm.Stderr), "the device models", timeout);
            Match m = RestoredLine().Match(vm.Stderr);
            var restore = new Restore(Ms(m.Groups["process"].Value), answered, Ms(ModelsReadyLine().Match(vm.Stderr).Groups["ms"].Value) + (Ms(m.Groups["process"].Value) - Ms(m.Groups["virt"].Value)));
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  virt restore {r + 1}: running {restore.Running.TotalMilliseconds:F0} ms, device models ready {restore.ModelsReady!.Value.TotalMilliseconds:F0} ms, shell answered {answered.TotalMilliseconds:F0} ms"));
            restores.Add(restore);
            vm.Type("poweroff -f\n");
            await vm.WaitForExitAsync(timeout);
        }
        return new Result("virt", fileBytes, dataBytes, save, paused, Median(restores));
    }

    private static async Task<Result> QemuAsync(string kernel, string initrd, string append, string dir, int runs, TimeSpan timeout)
    {
        string file = Path.Combine(dir, "qemu.mig"), socket = Path.Combine(dir, "qemu.mon");
        TimeSpan save;
        using (ConsoleProcess vm = ConsoleProcess.Start("qemu-system-i386", Qemu(kernel, initrd, append, socket)))
        {
            await AtPromptAsync(vm, timeout);
            using QemuMonitor monitor = await QemuMonitor.ConnectAsync(socket, timeout);
            var sw = System.Diagnostics.Stopwatch.StartNew();
            await monitor.CommandAsync("stop");
            await monitor.CommandAsync($"migrate \"exec:cat > {file}\"");
            await monitor.WaitForAsync("info migrate", "Migration status: completed", timeout);
            save = sw.Elapsed;
            vm.Dispose();
        }
        var restores = new List<Restore>();
        for (int r = 0; r < runs; r++)
        {
            File.Delete(socket);
            using ConsoleProcess vm = ConsoleProcess.Start("qemu-system-i386", [.. Qemu(kernel, initrd, append, socket), "-incoming", $"exec:cat {file}"]);
            using QemuMonitor monitor = await QemuMonitor.ConnectAsync(socket, timeout);
            // The source was stopped, so the restored machine waits paused (its run state travels with it): cont, as a user would.
            await monitor.WaitForAsync("info migrate", "Migration status: completed", timeout);
            await monitor.CommandAsync("cont");
            await monitor.WaitForAsync("info status", "VM status: running", timeout);
            TimeSpan running = vm.Wall.Elapsed;
            // Typed once it runs: QEMU's serial drops what arrives while the machine waits for its state.
            vm.Type(Typed);
            TimeSpan answered = await vm.WaitForOutputAsync(Answer, timeout);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  qemu restore {r + 1}: running {running.TotalMilliseconds:F0} ms, shell answered {answered.TotalMilliseconds:F0} ms"));
            restores.Add(new Restore(running, answered, null));
        }
        long size = new FileInfo(file).Length;
        return new Result("qemu-tcg", size, size, save, save, Median(restores));
    }

    internal static string[] Qemu(string kernel, string initrd, string append, string socket) =>
        ["-accel", "tcg", "-m", "256", "-kernel", kernel, "-initrd", initrd, "-append", append,
         "-display", "none", "-serial", "stdio", "-monitor", $"unix:{socket},server,nowait", "-no-reboot"];

    /// <summary>Booted to the shell's prompt, and a second more for the kernel's last late messages.</summary>
    internal static async Task AtPromptAsync(ConsoleProcess vm, TimeSpan timeout)
    {
        await vm.WaitForOutputAsync("VIRT-MARKER", timeout);
        await vm.WaitForOutputAsync(Prompt, timeout);
        await Task.Delay(1000);
    }

    internal static Restore Median(List<Restore> restores) => restores.OrderBy(r => r.Running).ElementAt(restores.Count / 2);

    private static void Print(List<Result> results)
    {
        var ci = CultureInfo.InvariantCulture;
        Console.WriteLine($"{"row",-14} {"file MiB",9} {"data MiB",9} {"save ms",8} {"paused ms",10} {"running ms",11} {"models ms",10} {"shell ms",9}");
        foreach (Result r in results)
            Console.WriteLine(string.Create(ci,
                $"{r.Row,-14} {r.FileBytes / 1048576.0,9:F1} {r.DataBytes / 1048576.0,9:F1} {r.Save.TotalMilliseconds,8:F0} {r.Paused.TotalMilliseconds,10:F0} "
                + $"{r.Median.Running.TotalMilliseconds,11:F0} {(r.Median.ModelsReady is { } m ? m.TotalMilliseconds.ToString("F0", ci) : "-"),10} {r.Median.Answered.TotalMilliseconds,9:F0}"));
        Console.WriteLine("running, models and shell: from the restoring process's start (median run by running); models: virt's device models routed; "
            + "shell: the answer to a line typed at the start");
        Console.WriteLine("rows 'waiting': into a process started and waiting (virt run --incoming, virt restore; QEMU -incoming defer, migrate_incoming and cont), "
            + "timed from the request to a running guest and to the answer to a line typed once it runs");
    }

    private static string LoadAverage()
    {
        try { return File.ReadAllText("/proc/loadavg").Split(' ')[0]; }
        catch (IOException) { return "?"; }
    }

    private static TimeSpan Ms(string s) => TimeSpan.FromMilliseconds(double.Parse(s, CultureInfo.InvariantCulture));

    private static double Mib(string s) => double.Parse(s, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"MiB file, (?<data>[\d.]+) MiB of it data.*save (?<save>\d+) ms, guest paused (?<paused>\d+) ms", RegexOptions.Singleline)]
    private static partial Regex SavedLine();

    [GeneratedRegex(@"guest running (?<virt>\d+) ms after virt started .*?, (?<process>\d+) ms after its process started")]
    private static partial Regex RestoredLine();

    [GeneratedRegex(@"device models ready (?<ms>\d+) ms after virt started")]
    private static partial Regex ModelsReadyLine();
}
