namespace Virt.Monitor.Guests;

/// <summary>
/// `virt run --demo`: a guest assembled at run time that greets through the UART, reads the
/// RTC and the CMOS memory size, and ends through the exit port with value 0 (status 1).
/// </summary>
public static class DemoGuest
{
    public static byte[] Build()
    {
        var g = new GuestAssembler();
        g.Print("Hello from the virt demo guest (32-bit protected mode, Multiboot).\r\n");
        g.Print("RTC time (UTC): ");
        g.ReadCmos(0x04).PrintAlHex().Print(":");
        g.ReadCmos(0x02).PrintAlHex().Print(":");
        g.ReadCmos(0x00).PrintAlHex().Print("\r\n");
        g.Print("CMOS extended memory (KiB, hex): ");
        g.ReadCmos(0x31).PrintAlHex();
        g.ReadCmos(0x30).PrintAlHex().Print("\r\n");
        g.Print("Bye: writing 0 to port 0xF4.\r\n");
        g.Exit(0);
        return g.Build();
    }
}
