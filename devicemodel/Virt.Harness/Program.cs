using Virt.CommandLine;
using Virt.DeviceModel.Hosting;
using Virt.DeviceModelKit.Attach;
using Virt.Devices.Bus;
using Virt.Devices.Debug;
using Virt.Devices.Sinks;
using Virt.Harness;

// virt-harness: a second bundled device model, for test guests rather than a PC: a debug console,
// an exit port and a scratch MMIO region, each optional and movable so it can sit beside virt-dm.
return await DeviceModelProgram.RunAsync("virt-harness", () => CommandLineProgram.InvokeAsync(HarnessCommand.Create(async h =>
{
    string socket = DeviceModelEnvironment.SocketPath(h.Socket);
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
        if (h.TextBuffer is { } text) list.Add(new TextBuffer(text.Address, text.RenderPort, sink));
        if (h.Constant is { } constant) list.Add(new ConstantPorts(constant.First, constant.Count, constant.Value));
        foreach (IDevice d in list)
        {
            d.Attach(host);
            bus.Add(d);
        }
        return new DeviceSet(_ => { }, () => { lock (bus.Lock) stdout.Flush(); }, () => { lock (bus.Lock) stdout.Flush(); });
    };
    return await new DeviceModelSession(socket, h.Name, devices).RunAsync();
}), args));
