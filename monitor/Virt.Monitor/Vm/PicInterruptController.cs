using Virt.Cpu.Exits;
using Virt.Devices.Platform;

namespace Virt.Monitor.Vm;

/// <summary>The CPU's INTR input wired to the master 8259's INT output.</summary>
public sealed class PicInterruptController(DualPic8259 pic) : IInterruptController
{
    public bool HasInterrupt => pic.HasInterrupt;

    public int AcknowledgeInterrupt() => pic.Acknowledge();
}
