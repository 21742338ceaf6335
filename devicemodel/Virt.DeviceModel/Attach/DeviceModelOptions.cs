namespace Virt.DeviceModel.Attach;

/// <summary>Command line of virt-dm. The secret never appears here: it comes from the environment.</summary>
public sealed record DeviceModelOptions(string SocketPath, string Serial, bool Bench, string Name, string[] TestClaims, bool TestDevices = false)
{
    public const string Usage = """
        usage: virt-dm [--socket PATH] [--serial stdio|file:PATH|none] [--bench] [--name NAME] [--test-devices]
          Started by `virt run`, which passes the control socket and the per-launch secret in the
          environment (VIRT_DM_SOCKET, VIRT_DM_SECRET). To attach to a VM by hand, read the secret
          from the VM directory's 0600 `secret` file into VIRT_DM_SECRET.
        """;

    public static DeviceModelOptions Parse(string[] args)
    {
        string? socket = Environment.GetEnvironmentVariable(Virt.Shared.Control.Protocol.SocketEnvironmentVariable);
        string serial = "stdio";
        bool bench = false;
        string name = "virt-dm";
        var claims = new List<string>();
        bool testDevices = false;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--socket": socket = Next(); break;
                case "--serial": serial = Next(); break;
                case "--bench": bench = true; break;
                case "--name": name = Next(); break;
                // Test hook: claim an extra port range "START:COUNT" (hex) as a device with no behaviour.
                case "--test-claim": claims.Add(Next()); break;
                // The I/O test and benchmark device (Bench/IoTestDevice): ports 0xBF00-0xBF1F, MMIO 0xFEB00000.
                case "--test-devices": testDevices = true; break;
                case "-h" or "--help": throw new ArgumentException(Usage);
                default: throw new ArgumentException($"unknown option {args[i]}\n{Usage}");
            }
        }
        if (string.IsNullOrEmpty(socket)) throw new ArgumentException($"no control socket: give --socket or set VIRT_DM_SOCKET\n{Usage}");
        if (serial != "stdio" && serial != "none" && !serial.StartsWith("file:", StringComparison.Ordinal))
            throw new ArgumentException($"--serial {serial}: expected stdio, file:PATH or none");
        return new DeviceModelOptions(socket, serial, bench, name, claims.ToArray(), testDevices);
    }
}
