using Iced.Intel;
using Virt.Monitor.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Integration.Tests.DeviceModels;

/// <summary>Guests for the device-model tests, assembled with Iced.</summary>
public static class DeviceModelGuests
{
    /// <summary>
    /// Prints an incrementing counter through COM1 forever, one "XXXXXXXX\r\n" line (8 hex digits) per
    /// value, polling THRE before each byte: a lost or duplicated character breaks the sequence.
    /// </summary>
    public static byte[] CounterForever()
    {
        var a = new Assembler(32);
        Label top = a.CreateLabel(), digit = a.CreateLabel(), isDigit = a.CreateLabel(), putc = a.CreateLabel(), wait = a.CreateLabel();
        a.mov(esp, 0x9_0000);
        a.xor(edi, edi);
        a.Label(ref top);
        a.mov(ecx, 8);
        a.mov(ebx, edi);
        a.Label(ref digit);
        a.rol(ebx, 4);
        a.mov(al, bl);
        a.and(al, 0xF);
        a.add(al, (byte)'0');
        a.cmp(al, (byte)'9');
        a.jbe(isDigit);
        a.add(al, 7);
        a.Label(ref isDigit);
        a.call(putc);
        a.dec(ecx);
        a.jnz(digit);
        a.mov(al, (byte)'\r');
        a.call(putc);
        a.mov(al, (byte)'\n');
        a.call(putc);
        a.inc(edi);
        a.jmp(top);

        a.Label(ref putc);
        a.push(edx);
        a.push(eax);
        a.mov(dx, GuestAssembler.Com1Lsr);
        a.Label(ref wait);
        a.@in(al, dx);
        a.test(al, 0x20);
        a.jz(wait);
        a.pop(eax);
        a.mov(dx, GuestAssembler.Com1);
        a.@out(dx, al);
        a.pop(edx);
        a.ret();
        return MultibootImage.Build(a);
    }

    /// <summary>
    /// Uses two device models at once: COM1 (virt-dm), the harness's debug console at 0x402 and
    /// scratch MMIO at 0xFED00000, an unclaimed port 0x1234 (must read all ones), then the harness's
    /// exit port at 0x501 with 3 when every check passed, 1 when one failed.
    /// </summary>
    public static byte[] TwoModels()
    {
        var g = new GuestAssembler();
        Assembler a = g.Asm;
        Label fail = a.CreateLabel(), con = a.CreateLabel();
        g.Print("com1 ok\r\n");
        // Debug console of the harness: "H\n".
        a.mov(dx, 0x402);
        a.mov(al, (byte)'H');
        a.@out(dx, al);
        a.mov(al, (byte)'\n');
        a.@out(dx, al);
        // Scratch MMIO: a dword written reads back; a byte inside it too.
        a.mov(__dword_ptr[0xFED0_0010], 0x1234_5678);
        a.mov(eax, __dword_ptr[0xFED0_0010]);
        a.cmp(eax, 0x1234_5678);
        a.jne(fail);
        a.mov(al, __byte_ptr[0xFED0_0012]);
        a.cmp(al, 0x34);
        a.jne(fail);
        // Nobody claims port 0x1234: all ones.
        a.mov(dx, 0x1234);
        a.@in(eax, dx);
        a.cmp(eax, -1);
        a.jne(fail);
        a.mov(dx, 0x1234);
        a.@out(dx, al);
        g.Print("checks ok\r\n");
        a.mov(dx, 0x501);
        a.mov(al, 3);
        a.@out(dx, al);
        a.jmp(con);
        a.Label(ref fail);
        a.mov(dx, 0x501);
        a.mov(al, 1);
        a.@out(dx, al);
        a.Label(ref con);
        a.cli();
        a.hlt();
        return g.Build();
    }

    /// <summary>Writes 0x41 to port 0x510 (the Python device model), reads it back (+1) and exits with what it read.</summary>
    public static byte[] PythonEcho()
    {
        var g = new GuestAssembler();
        Assembler a = g.Asm;
        a.mov(dx, 0x510);
        a.mov(al, 0x41);
        a.@out(dx, al);
        a.@in(al, dx);
        a.@out(0xF4, al);
        a.cli();
        a.hlt();
        return g.Build();
    }
}
