using Virt.DeviceModel.Attach;
using Virt.Devices.Bus;
using Virt.Devices.Debug;
using Virt.Devices.Sinks;
using Virt.Harness;
using Virt.Shared.Control;

// virt-harness: a second bundled device model, for test guests rather than a PC: a debug console,
// an exit port and a scratch MMIO region, each optional and movable so it can sit beside virt-dm.
return await DeviceModelProgram.RunAsync("virt-harness", async () =>
{
    HarnessOptions h = HarnessOptions.Parse(args);
    string? socket = h.Socket ?? Environment.GetEnvironmentVariable(Protocol.SocketEnvironmentVariable);
    if (string.IsNullOrEmpty(socket)) throw new ArgumentException($"no control socket: give --socket or set {Protocol.SocketEnvironmentVariable}");
    var options = new DeviceModelOptions(socket, "stdio", false, h.Name, []);
    DeviceSetFactory devices = (bus, host, ramSize) =>
    {
        Stream stdout = Console.OpenStandardOutput();
        var sink = new StreamByteSink(stdout, flushOnNewline: true);
        var list = new List<IDevice>();
        if (h.DebugConsole is { } con) list.Add(new DebugConsolePort(sink, con));
        if (h.ExitPort is { } port)
        {
            var exit = new DebugExitPort(port);
            exit.ExitRequested += status => bus.StopRequest = (uint)status >> 1;
            list.Add(exit);
        }
        if (h.ScratchStart is { } start) list.Add(new ScratchMemory(start, h.ScratchSize));
        foreach (IDevice d in list)
        {
            d.Attach(host);
            bus.Add(d);
        }
        return new DeviceSet(_ => { }, () => { lock (bus.Lock) stdout.Flush(); }, () => { lock (bus.Lock) stdout.Flush(); });
    };
    return await new DeviceModelSession(options, devices).RunAsync();
});
