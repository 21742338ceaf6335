using Virt.DeviceModel.Hosting;
using Virt.DeviceModelKit.Attach;

namespace Virt.DeviceModel.Cli;

/// <summary>Command line of virt-dm. The secret never appears here: it comes from the environment.</summary>
public sealed record DeviceModelOptions(string SocketPath, string Serial, string Name, IReadOnlySet<string>? Devices = null)
{
    public const string Usage = """
        usage: virt-dm [--socket PATH] [--serial stdio|file:PATH|none] [--devices LIST] [--name NAME]
          --devices LIST   the PC devices this model serves, comma-separated, from
                           com1,debugcon,exit,rtc,post,i8042,pci (default all), so that two models can
                           split the PC: virt run --dm "virt-dm --devices com1,rtc" --dm "virt-dm --devices debugcon,exit"
          Started by `virt run`, which passes the control socket and the per-launch secret in the
          environment (VIRT_DM_SOCKET, VIRT_DM_SECRET). To attach to a VM by hand, read the secret
          from the VM directory's 0600 `secret` file into VIRT_DM_SECRET.
        """;

    public static DeviceModelOptions Parse(string[] args)
    {
        string? socket = null;
        string serial = "stdio";
        string name = "virt-dm";
        HashSet<string>? devices = null;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--socket": socket = Next(); break;
                case "--serial": serial = Next(); break;
                case "--name": name = Next(); break;
                case "--devices": devices = ParseDevices(Next()); break;
                case "-h" or "--help": throw new ArgumentException(Usage);
                default: throw new ArgumentException($"unknown option {args[i]}\n{Usage}");
            }
        }
        socket = DeviceModelEnvironment.SocketPath(socket, Usage);
        if (serial != "stdio" && serial != "none" && !serial.StartsWith("file:", StringComparison.Ordinal))
            throw new ArgumentException($"--serial {serial}: expected stdio, file:PATH or none");
        return new DeviceModelOptions(socket, serial, name, devices);
    }

    private static HashSet<string> ParseDevices(string list)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (string d in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!PcDevices.DeviceNames.Contains(d))
                throw new ArgumentException($"--devices: unknown device '{d}' (known: {string.Join(',', PcDevices.DeviceNames)})");
            set.Add(d);
        }
        if (set.Count == 0) throw new ArgumentException($"--devices needs at least one of {string.Join(',', PcDevices.DeviceNames)}");
        return set;
    }
}
