using System.CommandLine;
using Virt.CommandLine;

namespace Virt.DeviceModel.Cli;

/// <summary>virt-dm's command line: its options, help and examples; the action gets the parsed options.</summary>
public static class DeviceModelCommand
{
    public const string Description = """
        virt-dm: the PC's device model. Started by `virt run` (or `virt attach`), which passes the control
        socket and the per-launch secret in the environment (VIRT_DM_SOCKET, VIRT_DM_SECRET). To attach to
        a VM by hand, read the secret from the VM directory's 0600 `secret` file into VIRT_DM_SECRET.
        """;

    public static RootCommand Create(Func<DeviceModelOptions, Task<int>> run)
    {
        var options = new DeviceModelOptionSet();
        var root = new RootCommand(Description);
        options.AddTo(root);
        root.SetAction((result, _) => run(options.Read(result, "virt-dm")));
        return root.WithExamples(
            "virt run --demo --dm \"virt-dm --devices com1,rtc\" --dm \"virt-dm --devices debugcon,exit\"",
            "virt run --demo --dm \"virt-dm --devices com1,rtc,exit --name pc\"");
    }
}
