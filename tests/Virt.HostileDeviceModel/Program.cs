using System.CommandLine;
using Virt.BenchDeviceModel;
using Virt.CommandLine;
using Virt.DeviceModel.Cli;
using Virt.DeviceModel.Hosting;
using Virt.DeviceModelKit.Attach;
using Virt.HostileDeviceModel;

// virt-dm-hostile: virt-dm's devices served honestly, with completions a buggy or malicious device
// model could write (--hostile: a fixed cycle of lies; --fuzz SEED: random bytes over the comm page).
// Test-only: the integration tests launch it to show the monitor refuses and counts what it reads.
// --io-test adds the benchmarks' I/O test device (virt-dm-bench --io-test); every other argument is virt-dm's.
var hostileOption = new Option<bool>("--hostile") { Description = "lie in a fixed cycle" };
var fuzz = new Option<int?>("--fuzz") { Description = "write random bytes over the comm page, from SEED", HelpName = "SEED" };
var ioTest = new Option<bool>("--io-test") { Description = "add the benchmarks' I/O test device" };
var deviceModel = new DeviceModelOptionSet();
var root = new RootCommand("virt-dm-hostile: virt-dm's devices served with completions a buggy or malicious device model could write") { hostileOption, fuzz, ioTest };
deviceModel.AddTo(root);
root.SetAction((result, _) =>
{
    HostileBehaviour hostile = result.GetValue(fuzz) is { } seed ? new HostileBehaviour(seed)
        : result.GetValue(hostileOption) ? new HostileBehaviour()
        : throw new UsageException("give --hostile or --fuzz SEED");
    DeviceModelOptions options = deviceModel.Read(result, "virt-dm");
    DeviceSetFactory devices = PcDeviceSet.For(options);
    return new DeviceModelSession(options.SocketPath, options.Name, result.GetValue(ioTest) ? IoTestDeviceSet.With(devices) : devices, hostile).RunAsync();
});
return await DeviceModelProgram.RunAsync("virt-dm-hostile", () => CommandLineProgram.InvokeAsync(root, args));
