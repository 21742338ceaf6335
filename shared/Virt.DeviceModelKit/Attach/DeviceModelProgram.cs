using Virt.Shared.Control;

namespace Virt.DeviceModelKit.Attach;

/// <summary>
/// What every device model's Main shares: its name on every message it prints, and the exit
/// statuses (2 bad usage, 1 refused, or the monitor or the socket failed us), so virt-dm,
/// virt-harness and any model built on this library report alike.
/// </summary>
public static class DeviceModelProgram
{
    /// <summary>The program name messages start with ("virt-dm", "virt-harness").</summary>
    public static string Name { get; private set; } = "device-model";

    public static void Error(string message) => Console.Error.WriteLine($"{Name}: {message}");

    public static async Task<int> RunAsync(string name, Func<Task<int>> run)
    {
        Name = name;
        try
        {
            return await run();
        }
        catch (ArgumentException e)
        {
            Error(e.Message);
            return 2;
        }
        catch (Exception e) when (e is AttachRefusedException or IOException or System.Net.Sockets.SocketException or ProtocolException or InvalidDataException)
        {
            Error(e.Message);
            return 1;
        }
    }
}
