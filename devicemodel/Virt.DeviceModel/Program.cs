using Virt.DeviceModel.Attach;

// virt-dm: the device model process. See Attach/DeviceModelSession for the life cycle.
return await DeviceModelProgram.RunAsync("virt-dm", () => new DeviceModelSession(DeviceModelOptions.Parse(args)).RunAsync());
