using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.Firmware;
using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;
using F = Virt.Cpu.Tests.Firmware.FirmwareGuest;

namespace Virt.Cpu.Tests.Firmware;

/// <summary>
/// Firmware handlers that fault, loop, make accesses of their own (nested exits), halt, or resume
/// without a completion: each time the guest's access completes as an unclaimed one (reads
/// all-ones, writes dropped), reflection is off for the rest of the run (the next access reaches
/// the exit handler), the host hears it once, and the CPU goes on: never an exception.
/// </summary>
public sealed class HostileFirmwareTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string engine in new[] { Engines.Interpreter, Engines.Native })
            foreach (string c in new[] { "fault", "loop", "nested-port", "nested-mmio", "halt", "bad-completion" })
                data.Add(engine, c);
        return data;
    }

    private static (Action<Assembler> Handler, FirmwareFailure Failure) Hostile(string c) => c switch
    {
        "fault" => (a => a.ud2(), FirmwareFailure.Fault),
        "loop" => (a => { var l = a.CreateLabel(); a.Label(ref l); a.inc(eax); a.jmp(l); }, FirmwareFailure.Loop),
        "nested-port" => (a => { a.mov(__dword_ptr[ebx + FirmwareAbi.RequestStatus], 1); a.@in(al, 0x61); a.rsm(); }, FirmwareFailure.NestedExit),
        "nested-mmio" => (a => { a.mov(eax, __dword_ptr[0xFEE0_0030]); a.rsm(); }, FirmwareFailure.NestedExit),
        "halt" => (a => a.hlt(), FirmwareFailure.Halted),
        _ => (a => { a.mov(__dword_ptr[ebx + FirmwareAbi.RequestStatus], 7); a.rsm(); }, FirmwareFailure.BadCompletion),
    };

    [Theory, MemberData(nameof(Cases))]
    public void A_failing_handler_completes_the_port_access_as_unclaimed_and_reflection_stops(string engine, string hostile)
    {
        var (handler, failure) = Hostile(hostile);
        var heard = new List<(FirmwareFailure, string)>();
        using var m = F.Machine(engine, a =>
        {
            a.mov(dx, F.Port);
            a.mov(eax, 0x1122_3344);
            a.@in(al, dx);                                   // abandoned: all-ones
            a.mov(__dword_ptr[F.Out], eax);
            a.@in(al, dx);                                   // reflection is off: the exit handler answers
            a.mov(__dword_ptr[F.Out + 4], eax);
            a.mov(edi, F.Buffer); a.mov(ecx, 2); a.rep.insb();
            a.mov(__dword_ptr[F.Out + 8], ecx);
            a.hlt();
        }, handler, setup: (m, _) =>
        {
            m.Cpu.FirmwareInstructionBudget = 20_000;
            m.Cpu.FirmwareFailed = (f, why) => heard.Add((f, why));
        });
        m.InValues[F.Port] = 0x5A;
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(0x1122_33FFu, m.Read32(F.Out));
        Assert.Equal(0x1122_335Au, m.Read32(F.Out + 4));
        Assert.Equal(0u, m.Read32(F.Out + 8));
        Assert.Equal(0x5A5Au, m.Read32(F.Buffer) & 0xFFFF);
        var (f, why) = Assert.Single(heard);
        Assert.Equal(failure, f);
        Assert.Contains("unclaimed for the rest of the run", why);
        Assert.Equal(failure, m.Cpu.FirmwareStats.Failure);
        Assert.Equal(1, m.Cpu.FirmwareStats.Reflections);
        Assert.False(m.Cpu.InFirmware);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void A_failing_handler_completes_an_mmio_read_with_all_ones(string engine)
    {
        var heard = 0;
        using var m = F.Machine(engine, a =>
        {
            a.mov(__dword_ptr[F.Mmio + 0x10], 0x1234);       // abandoned: dropped
            a.mov(eax, __dword_ptr[F.Mmio + 0x10]);          // the exit handler's all-ones
            a.mov(__dword_ptr[F.Out], eax);
            a.hlt();
        }, a => a.ud2(), setup: (m, _) => m.Cpu.FirmwareFailed = (_, _) => heard++);
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal(0xFFFF_FFFFu, m.Read32(F.Out));
        Assert.Equal(1, heard);
        Assert.Equal(FirmwareFailure.Fault, m.Cpu.FirmwareStats.Failure);
    }
}
