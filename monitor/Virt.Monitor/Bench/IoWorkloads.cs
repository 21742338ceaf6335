using Iced.Intel;
using Virt.Monitor.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Monitor.Bench;

/// <summary>
/// The guests of `virt bench io` (and of the batching tests), assembled with Iced. Each ends by
/// writing a result byte to the exit port (status (v &lt;&lt; 1) | 1): 0 when every value the guest
/// checked was right, 0x55 when one was not, or a checksum of what it read, so runs in different
/// modes can be compared. The status-poll, REP INSW and MMIO workloads need the I/O test device at
/// 0xBF00 and MMIO 0xFEB00000 (bench/Virt.BenchDeviceModel, virt-dm-bench --io-test), which the shipped
/// virt-dm does not have.
/// </summary>
public static class IoWorkloads
{
    public const ushort TestBase = 0xBF00, TestCommand = TestBase, TestStatus = TestBase + 1, TestDisk = TestBase + 0x10;
    public const uint TestMmio = 0xFEB0_0000;
    public const uint DiskBuffer = 0x20_0000;
    public const byte Failed = 0x55;

    public sealed record Workload(string Name, string Description, byte[] Image, byte? ExpectedResult);

    public static IReadOnlyList<Workload> All(int scale = 1) =>
    [
        new("serial", $"{20000 * scale} bytes to COM1, polling LSR before each (putc)", SerialBurst(20000 * scale), 0),
        new("rtc", $"{5000 * scale} x read seconds, minutes, hours (OUT 0x70, IN 0x71)", RtcReadLoop(5000 * scale), 0),
        new("status-poll", $"{5000 * scale} x command, then 8 status polls each", StatusPoll(5000 * scale, 8), 0),
        new("rep-insw", $"{64 * scale} x REP INSW of 32 KiB (64 sectors)", RepInsw(64 * scale, 16384), RepInswResult(64 * scale, 16384)),
        new("mmio", $"{20000 * scale} MMIO register writes, a synchronous read every 64", MmioLoop(20000 * scale), 0),
    ];

    private static void ExitWithAl(Assembler a)
    {
        a.@out((byte)GuestAssembler.ExitPort, al);
        Label hang = a.CreateLabel();
        a.Label(ref hang);
        a.cli();
        a.hlt();
        a.jmp(hang);
    }

    private static void FailLabel(Assembler a, ref Label fail)
    {
        a.Label(ref fail);
        a.mov(al, Failed);
        ExitWithAl(a);
    }

    /// <summary>putc as Linux's 8250 console does it: wait for THRE, write THR.</summary>
    public static byte[] SerialBurst(int bytes)
    {
        var g = new GuestAssembler();
        Assembler a = g.Asm;
        Label top = a.CreateLabel(), wait = a.CreateLabel();
        a.mov(ecx, bytes);
        a.Label(ref top);
        a.mov(dx, GuestAssembler.Com1Lsr);
        a.Label(ref wait);
        a.@in(al, dx);
        a.test(al, 0x20);
        a.jz(wait);
        a.mov(dx, GuestAssembler.Com1);
        a.mov(al, cl);
        a.and(al, 0x3F);
        a.add(al, 0x30);
        a.@out(dx, al);
        a.dec(ecx);
        a.jnz(top);
        a.mov(al, 0);
        ExitWithAl(a);
        return g.Build();
    }

    /// <summary>Reads the RTC's seconds, minutes and hours through the index/data pair, over and over.</summary>
    public static byte[] RtcReadLoop(int iterations)
    {
        var g = new GuestAssembler();
        Assembler a = g.Asm;
        Label top = a.CreateLabel(), fail = a.CreateLabel();
        a.mov(ecx, iterations);
        a.Label(ref top);
        foreach (byte reg in new byte[] { 0, 2, 4 })
        {
            a.mov(al, reg);
            a.@out((byte)0x70, al);
            a.@in(al, (byte)0x71);
            // BCD: a nibble above 9 means a wrong value.
            a.mov(ah, al);
            a.and(ah, 0x0F);
            a.cmp(ah, 9);
            a.ja(fail);
            a.cmp(al, 0x60);
            a.jae(fail);
        }
        a.dec(ecx);
        a.jnz(top);
        a.mov(al, 0);
        ExitWithAl(a);
        FailLabel(a, ref fail);
        return g.Build();
    }

    /// <summary>Writes a command, then polls the status port: every poll must already see the status the command set.</summary>
    public static byte[] StatusPoll(int commands, int polls)
    {
        var g = new GuestAssembler();
        Assembler a = g.Asm;
        Label top = a.CreateLabel(), poll = a.CreateLabel(), fail = a.CreateLabel();
        a.mov(ecx, commands);
        a.Label(ref top);
        a.movzx(eax, cl);
        a.imul(eax, eax, 13);
        a.add(eax, 7);
        a.mov(bh, al);               // expected status
        a.mov(al, cl);
        a.mov(dx, TestCommand);
        a.@out(dx, al);
        a.mov(esi, polls);
        a.mov(dx, TestStatus);
        a.Label(ref poll);
        a.@in(al, dx);
        a.cmp(al, bh);
        a.jne(fail);
        a.dec(esi);
        a.jnz(poll);
        a.dec(ecx);
        a.jnz(top);
        a.mov(al, 0);
        ExitWithAl(a);
        FailLabel(a, ref fail);
        return g.Build();
    }

    /// <summary>REP INSW of a disk-sized buffer from the test device's data register, repeated; exits with a checksum of the last buffer.</summary>
    public static byte[] RepInsw(int transfers, int words)
    {
        var g = new GuestAssembler();
        Assembler a = g.Asm;
        Label top = a.CreateLabel(), sum = a.CreateLabel();
        a.cld();
        a.mov(ebp, transfers);
        a.Label(ref top);
        a.mov(edi, DiskBuffer);
        a.mov(ecx, words);
        a.mov(dx, TestDisk);
        a.rep.insw();
        a.dec(ebp);
        a.jnz(top);
        a.mov(esi, DiskBuffer);
        a.mov(ecx, words / 2);
        a.xor(ebx, ebx);
        a.Label(ref sum);
        a.lodsd();
        a.add(ebx, eax);
        a.dec(ecx);
        a.jnz(sum);
        a.mov(eax, ebx);
        a.shr(eax, 16);
        a.xor(eax, ebx);
        a.xor(al, ah);
        a.and(al, 0x7F); // a process exit status keeps 8 bits of (v << 1) | 1
        ExitWithAl(a);
        return g.Build();
    }

    /// <summary>What <see cref="RepInsw"/> must exit with: the device's word sequence, folded as the guest folds it.</summary>
    public static byte RepInswResult(int transfers, int words)
    {
        uint first = (uint)((transfers - 1) * words);
        uint sum = 0;
        for (int i = 0; i < words; i += 2)
            sum += Word(first + (uint)i) | (uint)Word(first + (uint)i + 1) << 16;
        uint x = (sum >> 16) ^ sum;
        return (byte)((x ^ (x >> 8)) & 0x7F);
    }

    /// <summary>The test device's disk data sequence (IoTestDevice.Word, bench/Virt.BenchDeviceModel).</summary>
    public static ushort Word(uint index) => (ushort)(index * 0x9E37 + 0x1234);

    /// <summary>Writes the MMIO data register; every 64 writes reads back the device's count (synchronous: the coalesced writes go first).</summary>
    public static byte[] MmioLoop(int writes)
    {
        var g = new GuestAssembler();
        Assembler a = g.Asm;
        Label top = a.CreateLabel(), skip = a.CreateLabel(), fail = a.CreateLabel();
        a.mov(edi, TestMmio);
        a.mov(ecx, writes);
        a.Label(ref top);
        a.mov(__dword_ptr[edi], ecx);
        a.test(ecx, 63);
        a.jnz(skip);
        a.mov(eax, __dword_ptr[edi + 8]);
        a.mov(edx, writes);
        a.sub(edx, ecx);
        a.inc(edx);
        a.cmp(eax, edx);
        a.jne(fail);
        a.Label(ref skip);
        a.dec(ecx);
        a.jnz(top);
        a.mov(eax, __dword_ptr[edi + 8]);
        a.cmp(eax, writes);
        a.jne(fail);
        a.mov(al, 0);
        ExitWithAl(a);
        FailLabel(a, ref fail);
        return g.Build();
    }
}
