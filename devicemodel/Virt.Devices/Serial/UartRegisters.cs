namespace Virt.Devices.Serial;

/// <summary>Register offsets and bit names of the 8250/16550 family (the names Linux's serial_reg.h uses).</summary>
public static class UartRegisters
{
    // Offsets from the base port.
    public const int Rbr = 0, Thr = 0, Dll = 0;
    public const int Ier = 1, Dlm = 1;
    public const int Iir = 2, Fcr = 2;
    public const int Lcr = 3, Mcr = 4, Lsr = 5, Msr = 6, Scr = 7;

    // IER
    public const byte IerRdi = 0x01, IerThri = 0x02, IerRlsi = 0x04, IerMsi = 0x08;

    // IIR: bit 0 clear means an interrupt is pending; bits 7-6 set when FIFOs are enabled.
    public const byte IirNoInt = 0x01, IirMsi = 0x00, IirThri = 0x02, IirRdi = 0x04, IirRlsi = 0x06, IirCti = 0x0C;
    public const byte IirFifoEnabled = 0xC0;

    // FCR
    public const byte FcrEnable = 0x01, FcrClearRx = 0x02, FcrClearTx = 0x04, FcrDma = 0x08, FcrTriggerMask = 0xC0;

    // LCR
    public const byte LcrWordLengthMask = 0x03, LcrStop = 0x04, LcrParity = 0x08, LcrBreak = 0x40, LcrDlab = 0x80;

    // MCR
    public const byte McrDtr = 0x01, McrRts = 0x02, McrOut1 = 0x04, McrOut2 = 0x08, McrLoop = 0x10;

    // LSR
    public const byte LsrDr = 0x01, LsrOe = 0x02, LsrPe = 0x04, LsrFe = 0x08, LsrBi = 0x10, LsrThre = 0x20, LsrTemt = 0x40, LsrFifoError = 0x80;
    public const byte LsrErrors = LsrOe | LsrPe | LsrFe | LsrBi;

    // MSR
    public const byte MsrDcts = 0x01, MsrDdsr = 0x02, MsrTeri = 0x04, MsrDdcd = 0x08;
    public const byte MsrCts = 0x10, MsrDsr = 0x20, MsrRi = 0x40, MsrDcd = 0x80;
    public const byte MsrDeltas = 0x0F;
}
