using Virt.BenchDeviceModel;
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
const string Usage = """
    usage: virt-dm-bench [--socket PATH] [--name NAME]   the echo model (started by `virt bench wakeup`)
           virt-dm-bench --io-test [virt-dm options]      virt-dm's PC plus the I/O test device at ports
                                                          0xBF00-0xBF1F and MMIO 0xFEB00000 (`virt bench io`)
    """;
return await DeviceModelProgram.RunAsync("virt-dm-bench", async () =>
{
    if (args.Contains("--io-test"))
    {
        DeviceModelOptions options = DeviceModelOptions.Parse([.. args.Where(a => a != "--io-test")]);
        return await new DeviceModelSession(options.SocketPath, options.Name, IoTestDeviceSet.With(PcDeviceSet.For(options))).RunAsync();
    }
    string? socket = null;
    string name = "virt-dm-bench";
    for (int i = 0; i < args.Length; i++)
    {
        string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value\n{Usage}");
        switch (args[i])
        {
            case "--socket": socket = Next(); break;
            case "--name": name = Next(); break;
            case "-h" or "--help": throw new ArgumentException(Usage);
            default: throw new ArgumentException($"unknown option {args[i]}\n{Usage}");
        }
    }
    await using DeviceModelAttachment attachment = await DeviceModelAttachment.ConnectAsync(DeviceModelEnvironment.SocketPath(socket, Usage), name);
    await attachment.ClaimAsync(AddressSpace.Port, EchoHandler.Base, EchoHandler.Count, ClaimFlags.None, "bench-echo");
    attachment.StartServing(new EchoHandler());
    await attachment.ReadyAsync();
    await attachment.ServeControlAsync(() => []);
    return 0;
});
