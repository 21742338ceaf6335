namespace Virt.Cpu.Tests.Linux;

/// <summary>
/// Where scripts/fetch-guest.sh leaves the Linux guest: $VIRT_GUEST_CACHE or ~/.cache/virt-guests,
/// with stable names vmlinuz, initramfs.cpio.gz (interactive) and initramfs-smoke.cpio.gz.
/// </summary>
public static class GuestFiles
{
    public static string CacheDirectory =>
        Environment.GetEnvironmentVariable("VIRT_GUEST_CACHE") is { Length: > 0 } dir
            ? dir
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "virt-guests");

    public static string Kernel => Path.Combine(CacheDirectory, "vmlinuz");

    public static string SmokeInitramfs => Path.Combine(CacheDirectory, "initramfs-smoke.cpio.gz");

    public static string InteractiveInitramfs => Path.Combine(CacheDirectory, "initramfs.cpio.gz");

    /// <summary>Null when the guest is there; otherwise why the Linux tests cannot run.</summary>
    public static string? MissingReason =>
        File.Exists(Kernel) && File.Exists(SmokeInitramfs)
            ? null
            : $"Linux guest not fetched: {Kernel} or {SmokeInitramfs} is missing (run scripts/fetch-guest.sh)";
}
