using System.CommandLine;
using Virt.BenchDeviceModel;
using Virt.CommandLine;
using Virt.DeviceModel.Cli;
using Virt.DeviceModel.Hosting;
using Virt.DeviceModelKit.Attach;
using Virt.Shared.Control;
using Virt.Shared.Routing;

// virt-dm-bench: the benchmarks' device models, kept out of the shipped virt-dm.
// - `virt bench wakeup`: one echo device on the device-model kit alone, so the round trip measured
//   is the exit path and nothing a device does.
// - --io-test [virt-dm options]: virt-dm's PC plus the I/O test device (IoTestDevice), for
//   `virt bench io` and the batching tests; every other argument is virt-dm's.
var ioTest = new Option<bool>("--io-test")
{
    Description = "virt-dm's PC plus the I/O test device at ports 0xBF00-0xBF1F and MMIO 0xFEB00000 (virt bench io); without it, the echo model (virt bench wakeup)",
};
var deviceModel = new DeviceModelOptionSet();
var root = new RootCommand("virt-dm-bench: the benchmarks' device models") { ioTest };
deviceModel.AddTo(root);
root.SetAction(async (result, _) =>
{
    if (result.GetValue(ioTest))
    {
        DeviceModelOptions options = deviceModel.Read(result, "virt-dm");
        return await new DeviceModelSession(options.SocketPath, options.Name, IoTestDeviceSet.With(PcDeviceSet.For(options))).RunAsync();
    }
    if (result.GetResult(deviceModel.Devices) is not null || result.GetResult(deviceModel.Serial) is not null)
        throw new UsageException("--devices and --serial are virt-dm's: they need --io-test");
    DeviceModelOptions echo = deviceModel.Read(result, "virt-dm-bench");
    await using DeviceModelAttachment attachment = await DeviceModelAttachment.ConnectAsync(echo.SocketPath, echo.Name);
    await attachment.ClaimAsync(AddressSpace.Port, EchoHandler.Base, EchoHandler.Count, ClaimFlags.None, "bench-echo");
    attachment.StartServing(new EchoHandler());
    await attachment.ReadyAsync();
    await attachment.ServeControlAsync(() => []);
    return 0;
});
return await DeviceModelProgram.RunAsync("virt-dm-bench", () => CommandLineProgram.InvokeAsync(root, args));
