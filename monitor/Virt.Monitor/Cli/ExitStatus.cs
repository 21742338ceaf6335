namespace Virt.Monitor.Cli;

/// <summary>
/// Exit statuses of `virt run`. Odd statuses belong to the guest: a write of v to port 0xF4 ends
/// with (v &lt;&lt; 1) | 1, as QEMU's isa-debug-exit. The even ones are the monitor's.
/// </summary>
public static class ExitStatus
{
    /// <summary>The guest halted with interrupts off: nothing can wake it, the program is over.</summary>
    public const int HaltedWithInterruptsOff = 0;
    /// <summary>Bad options, a bad image, or the VM could not be set up.</summary>
    public const int BadUsage = 2;
    /// <summary>The device model died, hung, or could not attach.</summary>
    public const int DeviceModelFailed = 4;
    /// <summary>Triple fault or shutdown cycle.</summary>
    public const int Shutdown = 6;
    /// <summary>A bug in the monitor (an exception escaped the VCPU); the VM is torn down cleanly all the same.</summary>
    public const int InternalError = 8;
    /// <summary>Interrupted (SIGINT / SIGTERM).</summary>
    public const int Interrupted = 130;

    public static int FromExitPort(uint value) => (int)((value << 1) | 1);
}
