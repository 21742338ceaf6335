using Iced.Intel;
using Virt.Monitor.Bench;
using Virt.Monitor.Guests;
using static Iced.Intel.AssemblerRegisters;
using ExitStatus = Virt.Monitor.Cli.ExitStatus;

namespace Virt.Integration.Tests.Io;

/// <summary>
/// Generated I/O sequences against the bundled devices (UART, RTC/CMOS, POST port) and the I/O test
/// device, run in every --io / --state mode: the guest folds every value it reads into a checksum,
/// reads the devices' state back at the end, and prints both through COM1. The serial output (what
/// the UART transmitted plus the checksum) must be byte for byte the same in every mode.
/// </summary>
public class EquivalenceTests
{
    private const uint Scratch = 0x30_0000;

    private static byte[] Generate(int seed, int ops)
    {
        var rng = new Random(seed);
        var g = new GuestAssembler();
        Assembler a = g.Asm;
        a.xor(ebx, ebx);
        void Fold()
        {
            a.rol(ebx, 5);
            a.xor(ebx, eax);
        }
        void In8(ushort port)
        {
            a.mov(dx, port);
            a.xor(eax, eax);
            a.@in(al, dx);
            Fold();
        }
        void Out8(ushort port, byte value)
        {
            a.mov(dx, port);
            a.mov(al, value);
            a.@out(dx, al);
        }
        byte Pick(params byte[] values) => values[rng.Next(values.Length)];
        Out8(0x70, 0x40); // the CMOS index starts on plain CMOS memory, not on the clock (time differs run to run)
        for (int i = 0; i < ops; i++)
        {
            switch (rng.Next(23))
            {
                case 0: Out8(0x3FF, (byte)rng.Next(256)); break;                   // SCR (batched, cached)
                case 1: In8(0x3FF); break;
                case 2: In8(0x3FD); break;                                          // LSR (cached)
                case 3: Out8(0x3FB, Pick(0x03, 0x83, 0x1B)); break;                 // LCR, sometimes DLAB
                case 4: Out8(0x3F8, (byte)rng.Next(0x21, 0x7F)); break;            // THR / DLL (batched)
                case 5: In8(0x3F8); break;                                          // RBR / DLL
                case 6: Out8(0x3F9, Pick(0x00, 0x02, 0x04, 0x08)); break;          // IER (no RX-timeout interrupts: they are timed)
                case 7: In8(0x3FA); break;                                          // IIR
                case 8: Out8(0x3FC, Pick(0x03, 0x13, 0x0B)); break;                // MCR, sometimes loopback
                case 9: Out8(0x3FA, Pick(0x07, 0x01, 0x00, 0xC7)); break;          // FCR
                case 10: Out8(0x70, (byte)(0x40 + rng.Next(8) | (rng.Next(2) << 7))); break; // CMOS index (batched)
                case 11: Out8(0x71, (byte)rng.Next(256)); break;                   // CMOS data write
                case 12: In8(0x71); break;                                          // CMOS data read (cached, keyed)
                case 13: Out8(IoWorkloads.TestCommand, (byte)rng.Next(256)); break; // command (batched)
                case 14: In8(IoWorkloads.TestStatus); break;                        // status (cached)
                case 15: Out8((ushort)(IoWorkloads.TestBase + 2 + rng.Next(2)), (byte)rng.Next(256)); break;
                case 16:
                    a.mov(dx, (ushort)(IoWorkloads.TestBase + 4));
                    a.@in(eax, dx);
                    Fold();
                    break;
                case 17: a.mov(__dword_ptr[IoWorkloads.TestMmio], (uint)rng.Next()); break; // MMIO (coalesced)
                case 18:
                    a.mov(eax, __dword_ptr[IoWorkloads.TestMmio + 8]);
                    Fold();
                    break;
                case 19: Out8(0x80, (byte)rng.Next(256)); break;                  // POST (batched)
                case 21:
                    // A 16-bit OUT to 0x70: index and data in one (batched) write that touches 0x71 too.
                    a.mov(dx, (ushort)0x70);
                    a.mov(ax, (ushort)((0x40 + rng.Next(8)) | rng.Next(256) << 8));
                    a.@out(dx, ax);
                    break;
                default: In8(0x80); In8(0x3FE); break;                             // POST, MSR
            }
        }
        // Read the devices' state back, with the UART put back to a sane mode first.
        Out8(0x3FC, 0x03);
        Out8(0x3FB, 0x03);
        Out8(0x3FA, 0x07);
        for (byte index = 0x40; index < 0x48; index++)
        {
            Out8(0x70, index);
            In8(0x71);
        }
        foreach (ushort p in new ushort[] { 0x3F9, 0x3FB, 0x3FC, 0x3FD, 0x3FF, 0x80, IoWorkloads.TestStatus }) In8(p);
        a.mov(dx, (ushort)(IoWorkloads.TestBase + 4)); a.@in(eax, dx); Fold();
        a.mov(dx, (ushort)(IoWorkloads.TestBase + 8)); a.@in(eax, dx); Fold();
        a.mov(eax, __dword_ptr[IoWorkloads.TestMmio + 4]); Fold();
        a.mov(__dword_ptr[Scratch], ebx);
        g.Print("\r\nchecksum ");
        for (uint b = 3; b < 4; b--)
        {
            a.mov(al, __byte_ptr[Scratch + b]);
            g.PrintAlHex();
        }
        g.Print("\r\n");
        return g.Exit(0).Build();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Generated_io_sequences_give_the_same_results_in_every_mode(int seed)
    {
        byte[] guest = Generate(seed, 400);
        IoRuns.Outcome? reference = null;
        foreach (var (io, state) in IoRuns.AllModes)
        {
            var r = await IoRuns.RunAsync(guest, io, state);
            Assert.True(r.Status == ExitStatus.FromExitPort(0), $"{io}/{state}: status {r.Status}\n{r.Describe}");
            Assert.Contains("checksum ", r.Serial);
            Assert.Equal(0, r.Count("refusedTotal"));
            if (reference is null)
            {
                reference = r;
                continue;
            }
            Assert.Equal(reference.Serial, r.Serial);
            if (io == "batched") Assert.True(r.Count("batchedWrites") > 0 && r.Cached("hits") > 0, $"batched {r.Count("batchedWrites")}, hits {r.Cached("hits")}");
        }
    }
}
