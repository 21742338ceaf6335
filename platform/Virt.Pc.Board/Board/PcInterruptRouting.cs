namespace Virt.Pc.Board;

/// <summary>
/// How the ISA lines reach the I/O APIC: the one rule the chipset wiring and the MP table must
/// agree on. IRQ0 (the PIT) is on pin 2, as on every PC chipset since the 8259's cascade input
/// has no use on the I/O APIC; every other line is on the pin of its own number.
/// </summary>
public static class PcInterruptRouting
{
    /// <summary>The I/O APIC pin the PIT's IRQ0 is wired to.</summary>
    public const int TimerIoApicPin = 2;

    /// <summary>The I/O APIC pin <paramref name="isaIrq"/> drives.</summary>
    public static int IoApicPin(int isaIrq)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(isaIrq);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(isaIrq, IsaIrq.Count);
        return isaIrq == IsaIrq.Timer ? TimerIoApicPin : isaIrq;
    }

    /// <summary>
    /// The ISA lines that have an I/O APIC pin of their own, with that pin: every line but the
    /// cascade, whose pin IRQ0 takes. This is what the MP table lists.
    /// </summary>
    public static IEnumerable<(int IsaIrq, int Pin)> IoApicRoutes()
    {
        for (int irq = 0; irq < IsaIrq.Count; irq++)
            if (irq != IsaIrq.Cascade) yield return (irq, IoApicPin(irq));
    }
}
