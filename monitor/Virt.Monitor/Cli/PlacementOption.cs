using Virt.CommandLine;
using Virt.Pc.Board;

namespace Virt.Monitor.Cli;

/// <summary>
/// `virt run --place DEV=WHERE`: one value read (device, placement), and what the placements of a run
/// leave to the bundled device model. Repeatable; a later value for the same device wins, as for every
/// option given twice.
/// </summary>
public static class PlacementOption
{
    /// <summary>The devices that can be placed elsewhere than the board says.</summary>
    public static IReadOnlyList<string> PlaceableDevices { get; } = [PcBoard.Com1.Name];

    public const string Help = "where a device runs, repeatable (docs/placements.md): dm (a device model process, the default), "
        + "monitor (inside virt, served at the exit with no round trip) or firmware (reflected to the guest's firmware); DEV: com1. "
        + "--serial still says where COM1's output goes. e.g. --place com1=monitor";

    /// <exception cref="UsageException">Not DEV=dm|monitor|firmware for a placeable device.</exception>
    public static (string Device, Placement Where) Parse(string spec)
    {
        int eq = spec.IndexOf('=');
        if (eq <= 0 || eq == spec.Length - 1)
            throw new UsageException($"--place {spec}: expected DEV=dm|monitor|firmware, e.g. --place com1=monitor");
        string device = spec[..eq], where = spec[(eq + 1)..];
        if (!PlaceableDevices.Contains(device))
            throw new UsageException($"--place {spec}: the device '{device}' cannot be placed (placeable: {string.Join(", ", PlaceableDevices)})");
        Placement placement = where switch
        {
            "dm" => Placement.DeviceModel,
            "monitor" => Placement.Monitor,
            "firmware" => Placement.Firmware,
            _ => throw new UsageException($"--place {spec}: expected dm, monitor or firmware after '{device}='"),
        };
        return (device, placement);
    }

    /// <summary>What a run's --place values leave to the bundled PC device model, in board order; null when it keeps them all.</summary>
    public static IReadOnlyList<string>? DeviceModelDevices(IReadOnlyDictionary<string, Placement> placements)
    {
        if (placements.All(p => p.Value == Placement.DeviceModel)) return null;
        return PcBoard.DeviceModelNames.Where(n => !placements.TryGetValue(n, out Placement p) || p == Placement.DeviceModel).ToArray();
    }

    /// <summary>A device placed outside the device model that --dm-arg --devices also names would be in two places at once.</summary>
    /// <exception cref="UsageException">It is.</exception>
    public static void CheckDeviceModelArgs(IReadOnlyDictionary<string, Placement> placements, IReadOnlyList<string> deviceModelArgs)
    {
        for (int i = 0; i + 1 < deviceModelArgs.Count; i++)
        {
            if (deviceModelArgs[i] != "--devices") continue;
            foreach (var (device, where) in placements)
                if (where != Placement.DeviceModel && deviceModelArgs[i + 1].Split(',').Contains(device))
                    throw new UsageException($"--place {device}={Name(where)} and --dm-arg --devices {deviceModelArgs[i + 1]}: {device} cannot be in both");
        }
    }

    private static string Name(Placement p) => p switch { Placement.Monitor => "monitor", Placement.Firmware => "firmware", _ => "dm" };
}
