using Virt.Shared.Control;

namespace Virt.DeviceModel.Attach;

/// <summary>
/// What every bundled device model's Main shares: its name on every message it prints, and the
/// exit statuses (2 bad usage, 1 the monitor or the socket failed us), so virt-dm and virt-harness
/// report alike.
/// </summary>
public static class DeviceModelProgram
{
    /// <summary>The program name messages start with ("virt-dm", "virt-harness").</summary>
    public static string Name { get; private set; } = "virt-dm";

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
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ProtocolException or InvalidDataException)
        {
            Error(e.Message);
            return 1;
        }
    }
}
