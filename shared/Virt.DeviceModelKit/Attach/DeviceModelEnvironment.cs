using Virt.Shared.Control;

namespace Virt.DeviceModelKit.Attach;

/// <summary>What `virt run` and `virt attach` pass a device model in its environment: the control socket and the secret.</summary>
public static class DeviceModelEnvironment
{
    /// <summary>The per-launch secret a device model proves itself with in Hello: from VIRT_DM_SECRET, never from the command line.</summary>
    public static byte[] Secret()
    {
        string? hex = Environment.GetEnvironmentVariable(Protocol.SecretEnvironmentVariable);
        if (string.IsNullOrEmpty(hex))
            throw new ArgumentException($"no secret: {DeviceModelProgram.Name} is started by `virt run`, or set {Protocol.SecretEnvironmentVariable} from the VM directory's secret file");
        try
        {
            byte[] b = Convert.FromHexString(hex.Trim());
            return b.Length == Protocol.SecretSize ? b : throw new FormatException();
        }
        catch (FormatException)
        {
            throw new ArgumentException($"{Protocol.SecretEnvironmentVariable} must be {Protocol.SecretSize * 2} hex digits");
        }
    }

    /// <summary>The control socket: <paramref name="given"/> (--socket) or VIRT_DM_SOCKET.</summary>
    public static string SocketPath(string? given)
    {
        string? socket = given ?? Environment.GetEnvironmentVariable(Protocol.SocketEnvironmentVariable);
        return string.IsNullOrEmpty(socket) ? throw new ArgumentException($"no control socket: give --socket or set {Protocol.SocketEnvironmentVariable} ({DeviceModelProgram.Name} is started by `virt run` or `virt attach`)") : socket;
    }
}
