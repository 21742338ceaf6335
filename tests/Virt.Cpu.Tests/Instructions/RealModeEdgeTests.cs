using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests.Instructions;

/// <summary>
/// Real-mode edge cases where the 80286 vectors and an i686 part ways, pinned to the i686 rules
/// (SDM): a word access at offset FFFF exceeds the 64 KiB limit and faults (#SS for the stack
/// segment, #GP otherwise) with the instruction restartable, i.e. SP unchanged; AAM 0 raises #DE
/// before changing anything; IDIV r/m8 accepts quotients -128..127; INTO traps with IP after it;
/// FF /3 (CALL FAR) with a register operand is #UD. Guest.Real: SS 2000, SP FFFE, DS 3000, code at
/// 1000:0100, and each exception vector v halts in its own stub.
/// </summary>
public class RealModeEdgeTests
{
    private static ushort FrameWord(TestMachine m, int index) => m.Memory.Read16(0x2_0000 + ((m.Cpu.State.Esp + (uint)index * 2) & 0xFFFF));

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void LeaveWithBpAtFfffRaisesSsWithSpUnchanged(string engine)
    {
        using var m = Guest.Real(a => { a.mov(bp, 0xFFFF); a.leave(); }, engine: engine);
        Assert.Equal(12, Guest.Exception(m));
        Assert.Equal(0xFFF8u, m.Cpu.State.Esp);   // the frame at the original SP FFFE
        Assert.Equal(0x103, FrameWord(m, 0));      // IP of LEAVE: a fault
        Assert.Equal(0xFFFFu, m.Cpu.State.Ebp);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void LeaveWrapsSpWithinTheSegment(string engine)
    {
        using var m = Guest.Real(a => { a.mov(bp, 0xFFFE); a.leave(); }, memory: mem => mem.Write16(0x2_FFFE, 0x1234), engine: engine);
        Assert.Null(Guest.Exception(m));
        Assert.Equal(0u, m.Cpu.State.Esp);
        Assert.Equal(0x1234u, m.Cpu.State.Ebp);
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void PopToAWordStraddlingFfffRaisesGpWithSpUnchanged(string engine)
    {
        using var m = Guest.Real(a => { a.mov(bx, 0xFFF0); a.mov(si, 0xF); a.pop(__word_ptr[bx + si]); },
            memory: mem => mem.Write16(0x2_FFFE, 0xBEEF), engine: engine);
        Assert.Equal(13, Guest.Exception(m));
        Assert.Equal(0xFFF8u, m.Cpu.State.Esp);
        Assert.Equal(0x106, FrameWord(m, 0));
        Assert.Equal(0, m.Memory.Read8(0x3_FFFF)); // nothing written
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void AamZeroRaisesDeBeforeChangingAxOrFlags(string engine)
    {
        using var m = Guest.Real(a => { a.mov(ax, 0x1234); a.stc(); a.db(0xD4, 0x00); }, engine: engine);
        Assert.Equal(0, Guest.Exception(m));
        Assert.Equal(0x1234u, m.Cpu.State.Eax & 0xFFFF);
        Assert.Equal(0x104, FrameWord(m, 0));                 // IP of AAM: a fault
        Assert.Equal(0x003, FrameWord(m, 2) & 0xFFF);         // FLAGS image: CF from STC, nothing else
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void IdivByteAcceptsMinus128AndFaultsBeyond(string engine)
    {
        using (var m = Guest.Real(a => { a.mov(ax, 0xFF00); a.mov(bl, 2); a.idiv(bl); }, engine: engine))
        {
            Assert.Null(Guest.Exception(m));
            Assert.Equal(0x0080u, m.Cpu.State.Eax & 0xFFFF); // -256 / 2 = -128 rem 0
        }
        using (var m = Guest.Real(a => { a.mov(ax, 0x0080); a.mov(bl, 0xFF); a.idiv(bl); }, engine: engine))
        {
            Assert.Null(Guest.Exception(m));
            Assert.Equal(0x0080u, m.Cpu.State.Eax & 0xFFFF); // 128 / -1 = -128 rem 0
        }
        using (var m = Guest.Real(a => { a.mov(ax, 0xFF7F); a.mov(bl, 0xFF); a.idiv(bl); }, engine: engine))
        {
            Assert.Equal(0, Guest.Exception(m));             // -129 / -1 = 129: too big for AL
            Assert.Equal(0xFF7Fu, m.Cpu.State.Eax & 0xFFFF);
            Assert.Equal(0x105, FrameWord(m, 0));
        }
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void IntoTrapsOnlyWithOverflowAndReturnsAfterIt(string engine)
    {
        using (var m = Guest.Real(a => { a.mov(al, 0x7F); a.add(al, 1); a.into(); }, engine: engine))
        {
            Assert.Equal(4, Guest.Exception(m));
            Assert.Equal(0x105, FrameWord(m, 0)); // after INTO: a trap
        }
        using (var m = Guest.Real(a => { a.mov(al, 0x7E); a.add(al, 1); a.into(); }, engine: engine))
            Assert.Null(Guest.Exception(m));
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void FarCallOrJumpThroughARegisterIsUd(string engine)
    {
        using (var m = Guest.Real(a => a.db(0xFF, 0xD8), engine: engine)) Assert.Equal(6, Guest.Exception(m)); // FF /3, mod 11
        using (var m = Guest.Real(a => a.db(0xFF, 0xE8), engine: engine)) Assert.Equal(6, Guest.Exception(m)); // FF /5, mod 11
    }
    /// <summary>
    /// An interrupt frame pushed at SP 4 wraps within the stack segment: FLAGS at 2, CS at 0, IP at
    /// FFFE. Each push is its own word access, none straddles FFFF, so nothing faults (the 286 takes
    /// the exception once; probing the frame as one 6-byte block made this a triple fault).
    /// </summary>
    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void AnInterruptFrameWrapsAroundOffsetZero(string engine)
    {
        using (var m = Guest.Real(a => a.@int(0x10), s => s.Esp = 4, engine: engine))
        {
            Assert.Equal(16, Guest.Exception(m));
            Assert.Equal(0xFFFEu, m.Cpu.State.Esp);
            Assert.Equal(0x102, m.Memory.Read16(0x2_FFFE));   // IP after INT 10
            Assert.Equal(0x1000, m.Memory.Read16(0x2_0000));  // CS
        }
        // LEAVE's #SS (BP FFFF) delivered on a stack whose frame wraps: one exception, no shutdown.
        using (var m = Guest.Real(a => { a.mov(bp, 0xFFFF); a.leave(); }, s => s.Esp = 2, engine: engine))
        {
            Assert.Equal(12, Guest.Exception(m));
            Assert.Equal(0xFFFCu, m.Cpu.State.Esp);
            Assert.Equal(0x103, m.Memory.Read16(0x2_FFFC));   // IP of LEAVE
            Assert.Equal(0x1000, m.Memory.Read16(0x2_FFFE));  // CS
        }
    }

    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void AFarCallFrameWrapsAroundOffsetZero(string engine)
    {
        using var m = Guest.Real(a => a.call(0x0000, 0x0600), s => s.Esp = 2, engine: engine); // to the stub of vector 0
        Assert.Equal(0, Guest.Exception(m));
        Assert.Equal(0xFFFEu, m.Cpu.State.Esp);
        Assert.Equal(0x1000, m.Memory.Read16(0x2_0000));      // CS at 0
        Assert.Equal(0x105, m.Memory.Read16(0x2_FFFE));       // IP after the 5-byte CALL at FFFE
    }

    /// <summary>SP 1: the first push is a word at FFFF, which exceeds the limit; so does every frame after it (SDM PUSH: real mode shuts down).</summary>
    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void APushAtSpOneShutsDown(string engine)
    {
        using var m = new TestMachine();
        Engines.Use(m, engine);
        m.LoadReal(0x1000, 0x100, a => { a.push(ax); a.hlt(); });
        m.Cpu.State.Esp = 1;
        Assert.Equal(Execution.StopReason.Shutdown, m.Cpu.Run(1000));
    }
}
