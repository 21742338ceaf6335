using Virt.DeviceModel.Attach;
using Virt.Shared.Control;

// virt-dm: the device model process. See Attach/DeviceModelSession for the life cycle.
try
{
    var options = DeviceModelOptions.Parse(args);
    return await new DeviceModelSession(options).RunAsync();
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"virt-dm: {e.Message}");
    return 2;
}
catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ProtocolException or InvalidDataException)
{
    Console.Error.WriteLine($"virt-dm: {e.Message}");
    return 1;
}
