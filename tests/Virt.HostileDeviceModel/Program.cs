using System.Globalization;
using Virt.BenchDeviceModel;
using Virt.DeviceModel.Cli;
using Virt.DeviceModel.Hosting;
using Virt.DeviceModelKit.Attach;
using Virt.HostileDeviceModel;

// virt-dm-hostile: virt-dm's devices served honestly, with completions a buggy or malicious device
// model could write (--hostile: a fixed cycle of lies; --fuzz SEED: random bytes over the comm page).
// Test-only: the integration tests launch it to show the monitor refuses and counts what it reads.
// --io-test adds the benchmarks' I/O test device (virt-dm-bench --io-test); every other argument is virt-dm's.
return await DeviceModelProgram.RunAsync("virt-dm-hostile", () =>
{
    HostileBehaviour? hostile = null;
    bool ioTest = false;
    var rest = new List<string>();
    for (int i = 0; i < args.Length; i++)
    {
        if (args[i] == "--hostile") hostile = new HostileBehaviour();
        else if (args[i] == "--io-test") ioTest = true;
        else if (args[i] == "--fuzz" && i + 1 < args.Length) hostile = new HostileBehaviour(int.Parse(args[++i], CultureInfo.InvariantCulture));
        else rest.Add(args[i]);
    }
    if (hostile is null) throw new ArgumentException($"usage: virt-dm-hostile --hostile|--fuzz SEED [--io-test] [virt-dm options]\n{DeviceModelOptions.Usage}");
    DeviceModelOptions options = DeviceModelOptions.Parse([.. rest]);
    DeviceSetFactory devices = PcDeviceSet.For(options);
    return new DeviceModelSession(options.SocketPath, options.Name, ioTest ? IoTestDeviceSet.With(devices) : devices, hostile).RunAsync();
});
