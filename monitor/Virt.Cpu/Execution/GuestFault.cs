namespace Virt.Cpu.Execution;

/// <summary>
/// A guest-visible exception raised while an instruction executes (#GP, #PF, ...). Thrown from deep
/// inside memory and segment helpers and caught by the run loop, which delivers it to the guest
/// through the IDT. The instruction has not retired: EIP still points at it. One instance per CPU
/// is reused, since guests fault often (demand paging) and the object carries no stack to keep.
/// </summary>
public sealed class GuestFault : Exception
{
    public int Vector { get; private set; }
    public bool HasErrorCode { get; private set; }
    public uint ErrorCode { get; private set; }

    internal GuestFault Set(int vector, bool hasErrorCode, uint errorCode)
    {
        Vector = vector;
        HasErrorCode = hasErrorCode;
        ErrorCode = errorCode;
        return this;
    }

    public override string Message => HasErrorCode ? $"{Vectors.Name(Vector)}({ErrorCode:X})" : Vectors.Name(Vector);
}
