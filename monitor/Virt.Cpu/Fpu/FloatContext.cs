namespace Virt.Cpu.Fpu;

/// <summary>
/// The per-operation environment of the soft-float routines: the rounding and precision to apply,
/// which exceptions are masked (unmasked overflow/underflow change the delivered value), and what
/// the operation raised. RoundedUp reports that an inexact result was rounded away from zero in
/// magnitude, which the x87 reports in C1.
/// </summary>
public struct FloatContext
{
    public X87RoundingControl Rounding;
    public X87PrecisionControl Precision;
    public X87ExceptionFlags Masks;
    public X87ExceptionFlags Flags;
    public bool RoundedUp;

    public FloatContext(X87RoundingControl rounding, X87PrecisionControl precision, X87ExceptionFlags masks)
    {
        Rounding = rounding;
        Precision = precision;
        Masks = masks;
        Flags = X87ExceptionFlags.None;
        RoundedUp = false;
    }

    internal readonly int SignificandBits => Precision switch
    {
        X87PrecisionControl.Single => 24,
        X87PrecisionControl.Double => 53,
        _ => 64,
    };

    internal void Raise(X87ExceptionFlags flags) => Flags |= flags;

    internal readonly bool IsMasked(X87ExceptionFlags flag) => (Masks & flag) != 0;

    /// <summary>Whether an inexact result of this sign is rounded away from zero under the directed modes.</summary>
    internal readonly bool DirectedAwayFromZero(bool sign) =>
        Rounding == (sign ? X87RoundingControl.Down : X87RoundingControl.Up);
}
