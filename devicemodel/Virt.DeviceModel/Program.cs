using Virt.CommandLine;
using Virt.DeviceModel.Cli;
using Virt.DeviceModel.Hosting;
using Virt.DeviceModelKit.Attach;

// virt-dm: the device model process of the PC. The protocol is the device-model kit's
// (shared/Virt.DeviceModelKit), the device hosting Virt.DeviceModel.Hosting's; this is the composition.
return await DeviceModelProgram.RunAsync("virt-dm", () => CommandLineProgram.InvokeAsync(
    DeviceModelCommand.Create(options => new DeviceModelSession(options.SocketPath, options.Name, PcDeviceSet.For(options)).RunAsync()),
    args));
