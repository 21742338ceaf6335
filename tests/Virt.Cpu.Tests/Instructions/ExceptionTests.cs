using Virt.Cpu.Tests.Support;
using static Iced.Intel.AssemblerRegisters;

namespace Virt.Cpu.Tests.Instructions;

/// <summary>#DE, #UD, BOUND (#BR), INTO (#OF), INT3, #GP/#SS: vector, frame and preserved state.</summary>
public class ExceptionTests
{
    [Fact]
    public void DivideErrorInRealModePushesFaultingIp()
    {
        using var m = Guest.Real(a => { a.xor(bl, bl); a.div(bl); });
        Assert.Equal(Execution.Vectors.DE, Guest.Exception(m));
        uint sp = m.Cpu.State.Esp;
        Assert.Equal(0xFFFEu - 6, sp);
        Assert.Equal(0x0102u, m.Read32(0x2_0000 + sp) & 0xFFFF);       // IP of the DIV
        Assert.Equal(0x1000u, m.Read32(0x2_0000 + sp + 2) & 0xFFFF);   // CS
    }

    [Fact]
    public void Ud2RaisesInvalidOpcode()
    {
        using var m = Guest.Flat(a => { a.mov(eax, 1); a.ud2(); a.mov(eax, 2); });
        Assert.Equal(Execution.Vectors.UD, Guest.Exception(m));
        Assert.Equal(1u, m.Cpu.State.Eax);
        Assert.Equal(Guest.CodeBase + 5, m.Read32(m.Cpu.State.Esp));
    }

    [Fact]
    public void LockOnNonLockableInstructionRaisesInvalidOpcode()
    {
        using var m = Guest.Flat(a => a.db(0xF0, 0x89, 0xD8)); // lock mov eax, ebx
        Assert.Equal(Execution.Vectors.UD, Guest.Exception(m));
    }

    [Fact]
    public void BoundInRangeAndOutOfRange()
    {
        using var ok = Guest.Real(a => { a.mov(__word_ptr[0x10], 5); a.mov(__word_ptr[0x12], 10); a.mov(ax, 10); a.bound(ax, __dword_ptr[0x10]); });
        Assert.Null(Guest.Exception(ok));
        using var bad = Guest.Real(a => { a.mov(__word_ptr[0x10], 5); a.mov(__word_ptr[0x12], 10); a.mov(ax, 11); a.bound(ax, __dword_ptr[0x10]); });
        Assert.Equal(Execution.Vectors.BR, Guest.Exception(bad));
        uint sp = bad.Cpu.State.Esp;
        Assert.Equal(0x10Fu, bad.Read32(0x2_0000 + sp) & 0xFFFF); // BOUND is a fault: IP of the BOUND
    }

    [Fact]
    public void BoundIsSigned()
    {
        using var m = Guest.Real(a => { a.mov(__word_ptr[0x10], -5); a.mov(__word_ptr[0x12], 5); a.mov(ax, -1); a.bound(ax, __dword_ptr[0x10]); });
        Assert.Null(Guest.Exception(m));
    }

    [Fact]
    public void IntoTrapsOnlyWithOverflow()
    {
        using var none = Guest.Real(a => { a.xor(ax, ax); a.into(); });
        Assert.Null(Guest.Exception(none));
        using var m = Guest.Real(a => { a.mov(al, 0x7F); a.add(al, 1); a.into(); });
        Assert.Equal(Execution.Vectors.OF, Guest.Exception(m));
        // A trap: the frame points after INTO.
        Assert.Equal(0x0105u, m.Read32(0x2_0000 + m.Cpu.State.Esp) & 0xFFFF);
    }

    [Fact]
    public void Int3TrapPointsAfterTheInstruction()
    {
        using var m = Guest.Flat(a => { a.nop(); a.int3(); });
        Assert.Equal(Execution.Vectors.BP, Guest.Exception(m));
        Assert.Equal(Guest.CodeBase + 2, m.Read32(m.Cpu.State.Esp));
    }

    [Fact]
    public void InterruptClearsIfAndTf()
    {
        using var m = Guest.Real(a => { a.sti(); a.@int(5); });
        Assert.Equal(Execution.Vectors.BR, Guest.Exception(m));
        Assert.Equal(0u, m.Cpu.State.Eflags & State.Flags.IF);
        Assert.NotEqual(0u, m.Read32(0x2_0000 + m.Cpu.State.Esp + 4) & State.Flags.IF);
    }

    [Fact]
    public void GeneralProtectionFromCsLimitOnNearJump()
    {
        using var m = Guest.Real(a => a.db(0x66, 0xE9, 0x00, 0x00, 0x01, 0x00)); // jmp near32 to 0x10106 > CS limit
        Assert.Equal(Execution.Vectors.GP, Guest.Exception(m));
    }

    [Fact]
    public void RealModeMovToCsIsInvalid()
    {
        using var m = Guest.Real(a => a.db(0x8E, 0xC8)); // mov cs, ax
        Assert.Equal(Execution.Vectors.UD, Guest.Exception(m));
    }

    [Fact]
    public void PopSsInhibitsNothingVisibleButLoadsSegment()
    {
        using var m = Guest.Real(a => { a.push(0x3000); a.pop(ss); a.mov(sp, 0x100); });
        Assert.Equal(0x3000u, m.Cpu.State.Ss.Selector);
        Assert.Equal(0x3_0000u, m.Cpu.State.Ss.Base);
    }

    [Fact]
    public void LesLoadsFarPointer()
    {
        using var m = Guest.Real(a => { a.mov(__word_ptr[0x10], 0x1234); a.mov(__word_ptr[0x12], 0x5678); a.les(di, __dword_ptr[0x10]); a.lds(si, __dword_ptr[0x10]); });
        Assert.Equal(0x5678u, m.Cpu.State.Es.Selector);
        Assert.Equal(0x5_6780u, m.Cpu.State.Es.Base);
        Assert.Equal(0x1234u, m.Cpu.State.Edi);
        Assert.Equal(0x5678u, m.Cpu.State.Ds.Selector);
    }

    [Fact]
    public void XlatUsesBxPlusAl()
    {
        using var m = Guest.Real(a => { a.mov(__byte_ptr[0x1005], 0x99); a.mov(bx, 0x1000); a.mov(al, 5); a.xlatb(); });
        Assert.Equal(0x99u, m.Cpu.State.Eax & 0xFF);
    }
}
