namespace Virt.Cpu.Tests.Linux;

/// <summary>
/// A fact that runs only when the fetched Linux guest is present. Without it the test is reported
/// as skipped with the reason (never silently passed).
/// </summary>
public sealed class LinuxGuestFactAttribute : FactAttribute
{
    public LinuxGuestFactAttribute()
    {
        if (GuestFiles.MissingReason is { } why) Skip = why;
    }
}
