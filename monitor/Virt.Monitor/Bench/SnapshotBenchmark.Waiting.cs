using System.Diagnostics;
using System.Globalization;
using Virt.Monitor.Control;
using Virt.Shared.Control;

namespace Virt.Monitor.Bench;

/// <summary>
/// The restore as Firecracker (LoadSnapshot on a started process) and QEMU (`-incoming defer`, then
/// `migrate_incoming`) time it: into a process already started and waiting, from the request to a running
/// guest and to the shell's answer to a line typed once it runs. The process's own start-up is not in it.
/// </summary>
public static partial class SnapshotBenchmark
{
    private static async Task<Result> VirtIncomingAsync(Result saved, string file, int runs, TimeSpan timeout)
    {
        var restores = new List<Restore>();
        for (int r = 0; r < runs; r++)
        {
            using ConsoleProcess vm = ConsoleProcess.StartVirt(["run", "--incoming", "-m", "256M"]);
            await vm.WaitForAsync(() => vm.Stderr.Contains("waiting for a snapshot", StringComparison.Ordinal), "the VM waiting for a snapshot", timeout);
            RunningVm target = RunningVm.Find(vm.Pid.ToString(CultureInfo.InvariantCulture));
            // Connected and authorized beforehand, as a QEMU monitor is: the request is one frame and its answer.
            await using (ManagementClient client = await ManagementClient.ConnectAsync(target))
            {
                TimeSpan requested = vm.Wall.Elapsed;
                var sw = Stopwatch.StartNew();
                RequestResult result = await client.RestoreAsync(file);
                TimeSpan running = sw.Elapsed;
                if (!result.Ok) throw new InvalidOperationException($"virt restore failed: {result.Message}");
                // Typed once it runs, as for QEMU: a line typed before would reach the waiting UART, whose state the restore replaces.
                vm.Type(Typed);
                TimeSpan answered = await vm.WaitForOutputAsync(Answer, timeout) - requested;
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  virt restore into a waiting virt {r + 1}: running {running.TotalMilliseconds:F0} ms, shell answered {answered.TotalMilliseconds:F0} ms after the request ({result.Message})"));
                restores.Add(new Restore(running, answered, null));
            }
            vm.Type("poweroff -f\n");
            await vm.WaitForExitAsync(timeout);
        }
        return saved with { Row = "virt waiting", Median = Median(restores) };
    }

    private static async Task<Result> QemuIncomingAsync(Result saved, string kernel, string initrd, string append, string dir, int runs, TimeSpan timeout)
    {
        string file = Path.Combine(dir, "qemu.mig"), socket = Path.Combine(dir, "qemu.mon");
        var restores = new List<Restore>();
        for (int r = 0; r < runs; r++)
        {
            File.Delete(socket);
            using ConsoleProcess vm = ConsoleProcess.Start("qemu-system-i386", [.. Qemu(kernel, initrd, append, socket), "-incoming", "defer"]);
            using QemuMonitor monitor = await QemuMonitor.ConnectAsync(socket, timeout);
            TimeSpan requested = vm.Wall.Elapsed;
            var sw = Stopwatch.StartNew();
            await monitor.CommandAsync($"migrate_incoming \"exec:cat {file}\"");
            await monitor.WaitForAsync("info migrate", "Migration status: completed", timeout);
            // The source was stopped, so the restored machine waits paused: cont, as a user would.
            await monitor.CommandAsync("cont");
            await monitor.WaitForAsync("info status", "VM status: running", timeout);
            TimeSpan running = sw.Elapsed;
            vm.Type(Typed);
            TimeSpan answered = await vm.WaitForOutputAsync(Answer, timeout) - requested;
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  qemu restore into a waiting qemu {r + 1}: running {running.TotalMilliseconds:F0} ms, shell answered {answered.TotalMilliseconds:F0} ms after migrate_incoming"));
            restores.Add(new Restore(running, answered, null));
        }
        return saved with { Row = "qemu waiting", Median = Median(restores) };
    }
}
