using System.CommandLine;
using System.Net.Sockets;
using Spectre.Console;
using Virt.CommandLine;
using Virt.Monitor.Control;
using Virt.Shared.Control;

namespace Virt.Monitor.Top;

/// <summary>
/// `virt top [VM]`: a live view of a running VM over its control socket, as kvm_stat is for KVM:
/// it asks the monitor for its counters (StatsRequest) once per interval and shows the rates. The
/// monitor answers from counters it keeps anyway, without stopping the guest (Stats/LiveStats).
/// </summary>
public static class TopCommand
{
    public static Command Create()
    {
        var vm = new Argument<string?>("VM")
        {
            Description = "the monitor's pid or the VM directory name (see virt list); may be left out when exactly one VM runs",
            Arity = ArgumentArity.ZeroOrOne,
        };
        Option<TimeSpan?> interval = LastValueOption.Create<TimeSpan?>("--interval", "SECONDS",
            "time between two refreshes, and the interval of --once / --json (default 1)", s => TopOptions.ParseInterval(s), "-d");
        Option<TopSort?> sort = LastValueOption.Create<TopSort?>("--sort", "rate|total|name", "order of the rows (default rate: busiest now first)", s => TopOptions.ParseSort(s));
        var once = new Option<bool>("--once", "-1") { Description = "print one view as text and exit (the default when stdout is not a terminal)" };
        var json = new Option<bool>("--json") { Description = "print one view as JSON and exit" };
        var command = new Command("top", "a live view of a running VM: exits, round trips, devices. Keys: s next sort order (r rate, t total, n name), space freeze / unfreeze, q quit")
        {
            vm, interval, sort, once, json,
        };
        command.SetAction((r, _) => RunAsync(new TopOptions
        {
            Vm = r.GetValue(vm),
            Interval = r.GetValue(interval) ?? TimeSpan.FromSeconds(1),
            Sort = r.GetValue(sort) ?? TopSort.Rate,
            Once = r.GetValue(once),
            Json = r.GetValue(json),
        }));
        return command.WithExamples("virt top VM --once --interval 0.2", "virt top VM --json -d 0.2 --sort total");
    }

    public static async Task<int> RunAsync(TopOptions o)
    {
        RunningVm vm = Choose(o.Vm);
        try
        {
            await using var client = await ManagementClient.ConnectAsync(vm);
            bool interactive = !o.Once && !o.Json && !Console.IsOutputRedirected && !Console.IsInputRedirected;
            if (interactive) return await LiveAsync(client, vm, o);
            // One view over one interval: two snapshots that far apart.
            StatsSnapshot first = await client.StatsAsync();
            await Task.Delay(o.Interval);
            TopView view = TopView.From(vm.Id, await client.StatsAsync(), first, o.Sort);
            if (o.Json)
            {
                using Stream stdout = Console.OpenStandardOutput();
                TopJson.Write(stdout, view);
                stdout.Write("\n"u8);
            }
            else
            {
                TopText.Write(Console.Out, view);
            }
            return 0;
        }
        catch (Exception e) when (e is IOException or SocketException or ProtocolException or TimeoutException)
        {
            Console.Error.WriteLine($"virt top: {vm.Id}: {e.Message}");
            return 1;
        }
    }

    /// <summary>The VM named, or the only one running.</summary>
    private static RunningVm Choose(string? which)
    {
        if (which is not null) return RunningVm.Find(which);
        IReadOnlyList<RunningVm> all = RunningVm.All();
        return all.Count switch
        {
            1 => all[0],
            0 => throw new ArgumentException("no running VM (virt top VM; see virt list)"),
            _ => throw new ArgumentException($"{all.Count} VMs run, name one: virt top {string.Join(" | ", all.Select(v => v.MonitorPid))}"),
        };
    }

    private static async Task<int> LiveAsync(ManagementClient client, RunningVm vm, TopOptions o)
    {
        var keys = new TopKeys(o.Sort);
        using var _ = keys.CatchInterrupt();
        StatsSnapshot now = await client.StatsAsync();
        StatsSnapshot? before = null;
        string? ended = null;
        await AnsiConsole.Live(TopScreen.Render(TopView.From(vm.Id, now, null, keys.Sort), keys.Sort, keys.Frozen))
            .AutoClear(false)
            .Overflow(VerticalOverflow.Ellipsis)
            .Cropping(VerticalOverflowCropping.Bottom)
            .StartAsync(async ctx =>
            {
                DateTime next = DateTime.UtcNow + o.Interval;
                while (!keys.Quit)
                {
                    bool changed = await keys.WaitAsync(next);
                    if (keys.Quit) break;
                    if (DateTime.UtcNow >= next)
                    {
                        next = DateTime.UtcNow + o.Interval;
                        if (!keys.Frozen)
                        {
                            try
                            {
                                StatsSnapshot s = await client.StatsAsync();
                                before = now;
                                now = s;
                            }
                            catch (Exception e) when (e is IOException or SocketException or ProtocolException or TimeoutException)
                            {
                                ended = $"{vm.Id}: the VM ended ({e.Message})";
                                break;
                            }
                            changed = true;
                        }
                    }
                    if (changed)
                    {
                        ctx.UpdateTarget(TopScreen.Render(TopView.From(vm.Id, now, before, keys.Sort), keys.Sort, keys.Frozen));
                        ctx.Refresh();
                    }
                }
            });
        if (ended is not null) Console.Error.WriteLine($"virt top: {ended}");
        return 0;
    }
}
