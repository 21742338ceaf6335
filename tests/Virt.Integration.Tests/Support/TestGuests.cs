using Iced.Intel;
using Virt.Monitor.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Integration.Tests.Support;

/// <summary>Guests assembled with Iced for the integration tests.</summary>
public static class TestGuests
{
    /// <summary>Prints <paramref name="text"/> through COM1 and writes <paramref name="exitValue"/> to port 0xF4.</summary>
    public static byte[] PrintAndExit(string text, byte exitValue) =>
        new GuestAssembler().Print(text).Exit(exitValue).Build();

    /// <summary>Prints "tick N" lines through COM1 forever (for killing the device model mid-run).</summary>
    public static byte[] TickForever()
    {
        var g = new GuestAssembler();
        Assembler a = g.Asm;
        Label top = a.CreateLabel();
        a.Label(ref top);
        g.Print("tick\r\n");
        a.mov(ecx, 20000);
        Label spin = a.CreateLabel();
        a.Label(ref spin);
        a.@out((byte)0x80, al);   // POST port: more round trips
        a.dec(ecx);
        a.jnz(spin);
        a.jmp(top);
        return g.Build();
    }

    /// <summary>CLI; HLT: ends the VM with status 0, touching no device.</summary>
    public static byte[] HaltNoIo()
    {
        var g = new GuestAssembler();
        g.Asm.cli();
        g.Asm.hlt();
        return g.Build();
    }

    /// <summary>INT3 with an empty IDT: #GP, double fault, triple fault.</summary>
    public static byte[] TripleFault()
    {
        var g = new GuestAssembler();
        g.Asm.int3();
        return g.Build();
    }
}
