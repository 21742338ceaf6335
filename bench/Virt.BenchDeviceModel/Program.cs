using Virt.BenchDeviceModel;
using Virt.DeviceModelKit.Attach;
using Virt.Shared.Control;
using Virt.Shared.Routing;

// virt-dm-bench: the device model of `virt bench wakeup`, built on the device-model kit alone:
// one echo device, so the round trip measured is the exit path and nothing a device does.
const string Usage = "usage: virt-dm-bench [--socket PATH] [--name NAME]  (started by `virt bench wakeup`)";
return await DeviceModelProgram.RunAsync("virt-dm-bench", async () =>
{
    string? socket = null;
    string name = "virt-dm-bench";
    for (int i = 0; i < args.Length; i++)
    {
        string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value\n{Usage}");
        switch (args[i])
        {
            case "--socket": socket = Next(); break;
            case "--name": name = Next(); break;
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
