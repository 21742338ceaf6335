using System.CommandLine;
using Virt.CommandLine;
using Virt.DeviceModel.Hosting;
using Virt.DeviceModelKit.Attach;

namespace Virt.DeviceModel.Cli;

/// <summary>
/// virt-dm's options, on its own command and on those of the models built on its PC (virt-dm-bench
/// --io-test, the tests' virt-dm-hostile), so they take the same flags with the same meaning.
/// </summary>
public sealed class DeviceModelOptionSet
{
    public Option<string?> Socket { get; } = LastValueOption.Text("--socket", "PATH", "the monitor's control socket (default: VIRT_DM_SOCKET, which virt run and virt attach set)");

    public Option<string?> Serial { get; } = LastValueOption.Create<string?>("--serial", "stdio|file:PATH|none", "where COM1 goes (default stdio)", s => SerialTarget.Check(s));

    public Option<IReadOnlySet<string>?> Devices { get; } = LastValueOption.Create<IReadOnlySet<string>?>("--devices", "LIST",
        $"the PC devices this model serves, comma-separated, from {string.Join(',', PcDevices.DeviceNames)} (default all), so that two models can split the PC", ParseDevices);

    public Option<string?> Name { get; } = LastValueOption.Text("--name", "NAME", "the name the monitor shows for this model");

    public void AddTo(Command command)
    {
        command.Options.Add(Socket);
        command.Options.Add(Serial);
        command.Options.Add(Devices);
        command.Options.Add(Name);
    }

    /// <summary>The options as parsed; the socket falls back to the environment here.</summary>
    public DeviceModelOptions Read(ParseResult result, string defaultName) => new(
        DeviceModelEnvironment.SocketPath(result.GetValue(Socket)),
        result.GetValue(Serial) ?? "stdio",
        result.GetValue(Name) ?? defaultName,
        result.GetValue(Devices));

    private static HashSet<string> ParseDevices(string list)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (string d in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!PcDevices.DeviceNames.Contains(d))
                throw new UsageException($"--devices: unknown device '{d}' (known: {string.Join(',', PcDevices.DeviceNames)})");
            set.Add(d);
        }
        if (set.Count == 0) throw new UsageException($"--devices needs at least one of {string.Join(',', PcDevices.DeviceNames)}");
        return set;
    }
}
