namespace Virt.Monitor.Launch;

/// <summary>
/// A --dm value: a bundled name (virt-dm, virt-harness) or a path to any executable that speaks
/// the control protocol, then its arguments, separated by spaces ("virt-dm --devices com1,rtc").
/// </summary>
public sealed record DeviceModelCommand(string Program, IReadOnlyList<string> Arguments)
{
    public static DeviceModelCommand Parse(string spec)
    {
        string[] words = spec.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (words.Length == 0) throw new ArgumentException("--dm needs a device model name or path");
        return new DeviceModelCommand(words[0], words[1..]);
    }

    /// <summary>The bundled PC model takes the console option of virt run.</summary>
    public bool IsBundledPc => Program == "virt-dm";

    public override string ToString() => string.Join(' ', [Program, .. Arguments]);
}
