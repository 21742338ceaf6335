namespace Virt.Monitor.Cli;

/// <summary>
/// Exit statuses of `virt run`. Odd statuses belong to the guest: a write of v to port 0xF4 ends
/// with (v &lt;&lt; 1) | 1, as QEMU's isa-debug-exit. The even ones are the monitor's.
/// </summary>
public static class ExitStatus
{
    /// <summary>The guest halted with interrupts off: nothing can wake it, the program is over.</summary>
    public const int HaltedWithInterruptsOff = 0;
    /// <summary>`virt save --and-stop`: the VM was saved and ended on request.</summary>
    public const int SavedAndStopped = 0;
    /// <summary>Bad options, a bad image or snapshot, or the VM could not be set up.</summary>
    public const int BadUsage = Virt.CommandLine.CommandLineProgram.BadUsage;
    /// <summary>The device model died, hung, or could not attach.</summary>
    public const int DeviceModelFailed = 4;
    /// <summary>Triple fault or shutdown cycle.</summary>
    public const int Shutdown = 6;
    /// <summary>A bug in the monitor (an exception escaped the VCPU); the VM is torn down cleanly all the same.</summary>
    public const int InternalError = 8;
    /// <summary>Interrupted (SIGINT / SIGTERM).</summary>
    public const int Interrupted = 130;

    /// <summary>The largest status a guest value maps to: an exit status has 8 bits.</summary>
    public const int GuestValueSaturated = 255;

    /// <summary>
    /// (v &lt;&lt; 1) | 1 for v below 0x7F (statuses 1-253); every larger value (0x7F-0xFFFFFFFF) is 255. The
    /// status is cut to 8 bits by the kernel, so an unmapped 0x80 would end as 1 (the status of v = 0)
    /// and 0x100 likewise: saturating keeps every guest failure odd, non-zero and distinct from a small value.
    /// The exact value is in the end line on stderr and in --stats.
    /// </summary>
    public static int FromExitPort(uint value) => value < 0x7F ? (int)((value << 1) | 1) : GuestValueSaturated;

    /// <summary>An unexpected exception in one line for the user; the stack trace only with VIRT_DEBUG=1.</summary>
    public static string Describe(Exception e) =>
        Environment.GetEnvironmentVariable("VIRT_DEBUG") == "1" ? e.ToString() : $"{e.GetType().Name}: {e.Message}";
}
