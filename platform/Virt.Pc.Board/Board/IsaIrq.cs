namespace Virt.Pc.Board;

/// <summary>
/// The ISA interrupt lines of the PC that its devices drive (<see cref="Virt.Devices.Bus.IDeviceHost.SetIrq"/>).
/// Each reaches the 8259 input of the same number and an I/O APIC pin (<see cref="PcInterruptRouting"/>).
/// </summary>
public static class IsaIrq
{
    /// <summary>The number of ISA lines (two cascaded 8259s).</summary>
    public const int Count = 16;

    /// <summary>PIT channel 0.</summary>
    public const int Timer = 0;

    /// <summary>The i8042's keyboard port.</summary>
    public const int Keyboard = 1;

    /// <summary>The slave 8259's output into the master: no device drives it.</summary>
    public const int Cascade = 2;

    /// <summary>COM1 (and COM3).</summary>
    public const int Com1 = 4;

    /// <summary>The RTC (periodic, alarm and update-ended interrupts).</summary>
    public const int Rtc = 8;

    /// <summary>The i8042's auxiliary (mouse) port.</summary>
    public const int Mouse = 12;
}
