using Virt.Cpu.Paravirt;

namespace Virt.Monitor.Cli;

/// <summary>
/// `--cpu MODEL[,FEATURE...]`, QEMU's -cpu syntax: the one model, i686, and its paravirtual
/// features switched with +name / -name or name=on|off (docs/paravirt.md).
/// </summary>
public static class CpuModel
{
    public const string Help = "the CPU and its paravirtual features F (default: all on, docs/paravirt.md): kvm-pv (KVM's leaves at 0x40000100 with kvmclock and PV EOI), kvmclock, "
        + "kvm-pv-eoi, virt-pv (this monitor's leaves and call table), virt-pv-inline (the interpreter and native code run calls to the table's hot entries inline); pv = all of them; "
        + "kvm=off hides KVM as QEMU's does. --cpu i686,-pv is an ordinary i686";

    private static readonly (string Name, ParavirtFeatures Features)[] s_features =
    [
        ("pv", ParavirtFeatures.All),
        ("kvm-pv", ParavirtFeatures.Kvm | ParavirtFeatures.KvmClock | ParavirtFeatures.KvmPvEoi),
        ("kvm", ParavirtFeatures.Kvm | ParavirtFeatures.KvmClock | ParavirtFeatures.KvmPvEoi),
        ("kvmclock", ParavirtFeatures.KvmClock),
        ("kvm-pv-eoi", ParavirtFeatures.KvmPvEoi),
        ("virt-pv", ParavirtFeatures.CallTable | ParavirtFeatures.InlineHotCalls),
        ("virt-pv-inline", ParavirtFeatures.InlineHotCalls),
    ];

    /// <summary>The features <paramref name="spec"/> leaves on, starting from <paramref name="current"/>.</summary>
    public static ParavirtFeatures Parse(string spec, ParavirtFeatures current)
    {
        string[] parts = spec.Split(',');
        if (parts[0] is not ("i686" or "")) throw new ArgumentException($"--cpu {spec}: unknown model '{parts[0]}' (expected i686)");
        foreach (string p in parts.Skip(1))
        {
            (string name, bool on) = p switch
            {
                ['+', .. var n] => (n, true),
                ['-', .. var n] => (n, false),
                _ when p.EndsWith("=on", StringComparison.Ordinal) => (p[..^3], true),
                _ when p.EndsWith("=off", StringComparison.Ordinal) => (p[..^4], false),
                _ => (p, true),
            };
            ParavirtFeatures f = Array.Find(s_features, x => x.Name == name) is { Name: not null } hit
                ? hit.Features
                : throw new ArgumentException($"--cpu {spec}: unknown feature '{name}' (expected one of {string.Join(", ", s_features.Select(x => x.Name))})");
            current = on ? current | f : current & ~f;
        }
        return current;
    }
}
