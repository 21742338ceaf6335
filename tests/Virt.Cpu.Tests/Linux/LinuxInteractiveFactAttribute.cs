namespace Virt.Cpu.Tests.Linux;

/// <summary>
/// A Linux boot that is too long for every test run: it runs only with VIRT_LINUX_INTERACTIVE=1
/// and the guest fetched, and is reported as skipped (with the reason) otherwise.
/// </summary>
public sealed class LinuxInteractiveFactAttribute : FactAttribute
{
    public LinuxInteractiveFactAttribute()
    {
        if (GuestFiles.MissingReason is { } why) Skip = why;
        else if (Environment.GetEnvironmentVariable("VIRT_LINUX_INTERACTIVE") != "1")
            Skip = "interactive Linux boot (another ~100 s): set VIRT_LINUX_INTERACTIVE=1 to run it";
    }
}
