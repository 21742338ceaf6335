using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Monitor.Guests;

/// <summary>
/// Small building blocks for guests written with Iced's assembler (the demo, the tests): a stack,
/// COM1 output by polling the line status register, BCD printing, and the exit port.
/// </summary>
public sealed class GuestAssembler
{
    public const ushort Com1 = 0x3F8, Com1Lsr = 0x3FD, ExitPort = 0xF4;

    private Label _putc;
    private bool _putcUsed;

    public GuestAssembler()
    {
        Asm = new Assembler(32);
        _putc = Asm.CreateLabel("putc");
        Asm.mov(esp, 0x9_0000);
    }

    public Assembler Asm { get; }

    /// <summary>Prints a string through COM1 (polls THRE before each byte).</summary>
    public GuestAssembler Print(string text)
    {
        // The string sits inline after a CALL, which pushes its address (no absolute labels in 32-bit Iced).
        Label after = Asm.CreateLabel(), loop = Asm.CreateLabel(), done = Asm.CreateLabel();
        Asm.call(after);
        Asm.db(System.Text.Encoding.ASCII.GetBytes(text + "\0"));
        Asm.Label(ref after);
        Asm.pop(esi);
        Asm.Label(ref loop);
        Asm.lodsb();
        Asm.test(al, al);
        Asm.jz(done);
        Asm.call(_putc);
        Asm.jmp(loop);
        Asm.Label(ref done);
        _putcUsed = true;
        return this;
    }

    /// <summary>Prints AL as two hex digits (a BCD byte prints as its decimal digits).</summary>
    public GuestAssembler PrintAlHex()
    {
        Asm.mov(bl, al);
        Asm.shr(al, 4);
        EmitNibble();
        Asm.mov(al, bl);
        Asm.and(al, 0xF);
        EmitNibble();
        _putcUsed = true;
        return this;
    }

    private void EmitNibble()
    {
        Label digit = Asm.CreateLabel();
        Asm.add(al, (byte)'0');
        Asm.cmp(al, (byte)'9');
        Asm.jbe(digit);
        Asm.add(al, 7);
        Asm.Label(ref digit);
        Asm.call(_putc);
    }

    /// <summary>Reads CMOS register <paramref name="index"/> into AL.</summary>
    public GuestAssembler ReadCmos(byte index)
    {
        Asm.mov(al, index);
        Asm.@out((byte)0x70, al);
        Asm.@in(al, (byte)0x71);
        return this;
    }

    /// <summary>Writes <paramref name="value"/> to the exit port: virt run ends with status (value &lt;&lt; 1) | 1.</summary>
    public GuestAssembler Exit(byte value)
    {
        Asm.mov(al, value);
        Asm.@out((byte)ExitPort, al);
        Label hang = Asm.CreateLabel();
        Asm.Label(ref hang);
        Asm.cli();
        Asm.hlt();
        Asm.jmp(hang);
        return this;
    }

    /// <summary>Emits the subroutines and data, assembles, and wraps the code in a Multiboot ELF.</summary>
    public byte[] Build()
    {
        Label end = Asm.CreateLabel();
        Asm.jmp(end); // guests end with Exit or a loop; never fall into the helpers
        if (_putcUsed)
        {
            // putc: AL -> COM1, preserving EDX and AL.
            Label wait = Asm.CreateLabel();
            Asm.Label(ref _putc);
            Asm.push(edx);
            Asm.push(eax);
            Asm.mov(dx, Com1Lsr);
            Asm.Label(ref wait);
            Asm.@in(al, dx);
            Asm.test(al, 0x20);
            Asm.jz(wait);
            Asm.pop(eax);
            Asm.mov(dx, Com1);
            Asm.@out(dx, al);
            Asm.pop(edx);
            Asm.ret();
        }
        Asm.Label(ref end);
        Asm.cli();
        Asm.hlt();
        return MultibootImage.Build(Asm);
    }
}
