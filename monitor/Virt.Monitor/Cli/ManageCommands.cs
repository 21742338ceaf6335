using System.CommandLine;
using System.Net.Sockets;
using Virt.CommandLine;
using Virt.Monitor.Control;
using Virt.Shared.Control;

namespace Virt.Monitor.Cli;

/// <summary>`virt list`, `virt attach VM --dm SPEC [--replace DM]`, `virt detach VM DM`, `virt save VM FILE`, `virt restore VM FILE`: talk to running VMs over their control sockets.</summary>
public static class ManageCommands
{
    private const string VmDescription = "the monitor's pid or the VM directory name (vm-PID-XXXXXXXX; see virt list)";

    public static Command List()
    {
        var command = new Command("list", "running VMs and their device models");
        command.SetAction((_, _) => ListAsync());
        return command.WithExamples("virt list");
    }

    public static Command Attach()
    {
        var vm = new Argument<string>("VM") { Description = VmDescription };
        Option<string?> dm = LastValueOption.Text("--dm", "NAME|PATH", "the device model to start and attach, with its arguments after spaces");
        dm.Required = true;
        Option<string?> replace = LastValueOption.Text("--replace", "DM", "swap the new model in for DM (an attachment id or name), keeping device state");
        var command = new Command("attach", "start a device model and attach it to a running VM") { vm, dm, replace };
        command.SetAction((r, _) => RequestAsync(r.GetValue(vm)!, c => c.AttachAsync(r.GetValue(dm)!, r.GetValue(replace) ?? "")));
        return command.WithExamples("virt attach VM --dm \"virt-harness --debugcon 0x402 --exit none --scratch none --name probe\"");
    }

    public static Command Detach()
    {
        var vm = new Argument<string>("VM") { Description = VmDescription };
        var dm = new Argument<string>("DM") { Description = "an attachment id or name; its ranges become unclaimed" };
        var command = new Command("detach", "detach a device model from a running VM") { vm, dm };
        command.SetAction((r, _) => RequestAsync(r.GetValue(vm)!, c => c.DetachAsync(r.GetValue(dm)!)));
        return command.WithExamples("virt detach VM probe");
    }

    public static Command Save()
    {
        var vm = new Argument<string>("VM") { Description = VmDescription };
        var file = new Argument<string>("FILE") { Description = "the snapshot: RAM, CPU, platform and every device model's devices (docs/snapshots.md)" };
        var andStop = new Option<bool>("--and-stop") { Description = "end the VM once it is saved (it goes on otherwise); virt run --restore FILE resumes it" };
        var command = new Command("save", "write a snapshot of a running VM") { vm, file, andStop };
        // The monitor writes the file: the path must mean the same to it, whatever its working directory.
        command.SetAction((r, _) => RequestAsync(r.GetValue(vm)!, c => c.SaveAsync(Path.GetFullPath(r.GetValue(file)!), r.GetValue(andStop))));
        return command.WithExamples("virt save VM vm.snapshot --and-stop");
    }

    public static Command Restore()
    {
        var vm = new Argument<string>("VM") { Description = VmDescription + "; a VM started with virt run --incoming, waiting for a snapshot" };
        var file = new Argument<string>("FILE") { Description = "a snapshot written by virt save (docs/snapshots.md)" };
        var command = new Command("restore", "load a snapshot into a VM waiting for one (virt run --incoming) and run it; "
            + "exit status 2 when it is refused (a bad snapshot, or a VM already running a guest: it goes on as it was)") { vm, file };
        // The monitor reads the file: the path must mean the same to it, whatever its working directory.
        command.SetAction((r, _) => RequestAsync(r.GetValue(vm)!, c => c.RestoreAsync(Path.GetFullPath(r.GetValue(file)!)), refused: ExitStatus.BadUsage));
        return command.WithExamples("virt restore VM vm.snapshot");
    }

    private static async Task<int> ListAsync()
    {
        IReadOnlyList<RunningVm> vms = RunningVm.All();
        if (vms.Count == 0)
        {
            Console.Out.WriteLine("no running VMs");
            return 0;
        }
        foreach (RunningVm vm in vms)
        {
            try
            {
                await using var client = await ManagementClient.ConnectAsync(vm);
                Write(vm, client.Status);
            }
            catch (Exception e) when (e is IOException or SocketException or ProtocolException or TimeoutException)
            {
                Console.Out.WriteLine($"{vm.Id}  pid {vm.MonitorPid}  (not answering: {e.Message})");
            }
        }
        return 0;
    }

    private static void Write(RunningVm vm, VmStatus s)
    {
        Console.Out.WriteLine($"{vm.Id}  pid {s.MonitorPid}  {s.State.ToString().ToLowerInvariant()}{(s.StateDetail.Length > 0 ? $": {s.StateDetail}" : "")}"
            + $"  instructions {s.Instructions:N0}  unclaimed accesses {s.UnclaimedAccesses:N0}");
        Console.Out.WriteLine($"  {"id",3}  {"device model",-16} {"pid",7}  {"state",-9}  detail");
        foreach (AttachmentInfo a in s.Attachments)
            Console.Out.WriteLine($"  {a.Id,3}  {a.Name,-16} {a.Pid,7}  {a.State.ToString().ToLowerInvariant(),-9}  {a.Detail}");
    }

    /// <param name="refused">The exit status when the monitor refuses the request.</param>
    private static async Task<int> RequestAsync(string which, Func<ManagementClient, Task<RequestResult>> request, int refused = 1)
    {
        RunningVm vm = RunningVm.Find(which);
        try
        {
            await using var client = await ManagementClient.ConnectAsync(vm);
            RequestResult r = await request(client);
            (r.Ok ? Console.Out : Console.Error).WriteLine($"{(r.Ok ? "" : "virt: ")}{r.Message}");
            return r.Ok ? 0 : refused;
        }
        catch (Exception e) when (e is IOException or SocketException or ProtocolException or TimeoutException)
        {
            Console.Error.WriteLine($"virt: {vm.Id}: {e.Message}");
            return 1;
        }
    }
}
