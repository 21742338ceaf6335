using System.Net.Sockets;
using Virt.Monitor.Control;
using Virt.Shared.Control;

namespace Virt.Monitor.Cli;

/// <summary>`virt list`, `virt attach VM --dm SPEC [--replace DM]`, `virt detach VM DM`: talk to running VMs over their control sockets.</summary>
public static class ManageCommands
{
    public const string Usage = """
        usage: virt list                                   running VMs and their device models
               virt attach VM --dm NAME|PATH [--replace DM]  start a device model and attach it; with
                                                           --replace, swap it in for DM keeping device state
               virt detach VM DM                           detach a device model (its ranges become unclaimed)
               virt save VM FILE [--and-stop]              write a snapshot (RAM, CPU, platform, every device
                                                           model's devices) to FILE; the VM goes on unless --and-stop.
                                                           virt run --restore FILE resumes it (docs/snapshots.md)
          VM: the monitor's pid or the VM directory name (vm-PID-XXXXXXXX); DM: an attachment id or name.
        """;

    public static async Task<int> ListAsync()
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

    public static async Task<int> AttachAsync(string[] args)
    {
        string? vm = null, dm = null, replace = null;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value\n{Usage}");
            switch (args[i])
            {
                case "--dm": dm = Next(); break;
                case "--replace": replace = Next(); break;
                default:
                    if (vm is not null || args[i].StartsWith('-')) throw new ArgumentException($"unexpected '{args[i]}'\n{Usage}");
                    vm = args[i];
                    break;
            }
        }
        if (vm is null || dm is null) throw new ArgumentException($"virt attach needs a VM and --dm\n{Usage}");
        return await RequestAsync(vm, c => c.AttachAsync(dm, replace ?? ""));
    }

    public static Task<int> DetachAsync(string[] args) => args is [var vm, var dm]
        ? RequestAsync(vm, c => c.DetachAsync(dm))
        : throw new ArgumentException($"virt detach needs a VM and a device model\n{Usage}");

    public static Task<int> SaveAsync(string[] args)
    {
        string[] words = args.Where(a => a != "--and-stop").ToArray();
        if (words.Length != 2 || words.Any(w => w.StartsWith('-')))
            throw new ArgumentException($"virt save needs a VM and a file (and optionally --and-stop)\n{Usage}");
        // The monitor writes the file: the path must mean the same to it, whatever its working directory.
        string path = Path.GetFullPath(words[1]);
        return RequestAsync(words[0], c => c.SaveAsync(path, args.Contains("--and-stop")));
    }

    private static async Task<int> RequestAsync(string which, Func<ManagementClient, Task<RequestResult>> request)
    {
        RunningVm vm = RunningVm.Find(which);
        try
        {
            await using var client = await ManagementClient.ConnectAsync(vm);
            RequestResult r = await request(client);
            (r.Ok ? Console.Out : Console.Error).WriteLine($"{(r.Ok ? "" : "virt: ")}{r.Message}");
            return r.Ok ? 0 : 1;
        }
        catch (Exception e) when (e is IOException or SocketException or ProtocolException or TimeoutException)
        {
            Console.Error.WriteLine($"virt: {vm.Id}: {e.Message}");
            return 1;
        }
    }
}
