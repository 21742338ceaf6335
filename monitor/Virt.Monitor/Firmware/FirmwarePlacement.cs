using Virt.CommandLine;
using Virt.Monitor.Cli;
using Virt.Pc.Board;

namespace Virt.Monitor.Firmware;

/// <summary>
/// `virt run --place com1=firmware`: COM1's 16550 emulated by the guest's own firmware
/// (guests/firmware_uart.c, docs/firmware-reflection.md) instead of virt-dm. The one place this
/// placement is read from the command line: the values of --place, applied to the run's options.
/// </summary>
public static class FirmwarePlacement
{
    public const string Device = "com1", Placement = "firmware";

    /// <summary>
    /// Reads the --place values: true when COM1 is placed in firmware. virt-dm is then launched
    /// without com1 (--devices with the rest of the PC), so the ports are claimed by nobody but the firmware.
    /// </summary>
    /// <exception cref="UsageException">A value that is not DEV=PLACEMENT, or a device or placement this build cannot place.</exception>
    public static RunOptions Apply(RunOptions o, IReadOnlyList<string> values)
    {
        bool firmware = false;
        foreach (string v in values)
        {
            int eq = v.IndexOf('=');
            if (eq <= 0 || eq == v.Length - 1) throw new UsageException($"--place {v}: expected DEV=PLACEMENT, e.g. com1=firmware");
            string device = v[..eq], placement = v[(eq + 1)..];
            if (device != Device) throw new UsageException($"--place {v}: only {Device} can be placed (in {Placement})");
            if (placement != Placement && placement != "dm") throw new UsageException($"--place {v}: expected {Device}=dm or {Device}={Placement}");
            firmware = placement == Placement;
        }
        if (!firmware) return o;
        if (o.Restore is not null) throw new UsageException($"--place {Device}={Placement} boots a new machine: it does not combine with --restore");
        for (int i = 0; i < o.DeviceModelArgs.Count; i++)
            if (o.DeviceModelArgs[i] == "--devices")
            {
                if (i + 1 < o.DeviceModelArgs.Count && o.DeviceModelArgs[i + 1].Split(',').Contains(Device))
                    throw new UsageException($"--place {Device}={Placement} and --dm-arg --devices {o.DeviceModelArgs[i + 1]}: {Device} cannot be in both");
                return o with { Com1InFirmware = true };
            }
        string rest = string.Join(',', PcBoard.DeviceModelNames.Where(n => n != Device));
        return o with { Com1InFirmware = true, DeviceModelArgs = [.. o.DeviceModelArgs, "--devices", rest] };
    }
}
