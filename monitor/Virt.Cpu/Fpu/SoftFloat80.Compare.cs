namespace Virt.Cpu.Fpu;

public static partial class SoftFloat80
{
    /// <summary>
    /// Compares a with b. FCOM-style (<paramref name="quiet"/> false) comparisons raise IE for any
    /// NaN; FUCOM-style ones only for SNaNs. Unsupported encodings always raise IE.
    /// </summary>
    public static X87Comparison Compare(ref FloatContext c, Float80 a, Float80 b, bool quiet)
    {
        if (a.IsUnsupported || b.IsUnsupported)
        {
            c.Raise(X87ExceptionFlags.Invalid);
            return X87Comparison.Unordered;
        }

        if (a.IsNaN || b.IsNaN)
        {
            if (!quiet || a.IsSignalingNaN || b.IsSignalingNaN)
            {
                c.Raise(X87ExceptionFlags.Invalid);
            }

            return X87Comparison.Unordered;
        }

        if (a.IsDenormal || b.IsDenormal)
        {
            c.Raise(X87ExceptionFlags.Denormal);
        }

        if (a.IsZero && b.IsZero)
        {
            return X87Comparison.Equal;
        }

        if (a.Sign != b.Sign)
        {
            return a.Sign ? X87Comparison.Less : X87Comparison.Greater;
        }

        var magnitude = CompareMagnitude(a, b);
        if (magnitude == 0)
        {
            return X87Comparison.Equal;
        }

        return (magnitude < 0) ^ a.Sign ? X87Comparison.Less : X87Comparison.Greater;
    }

    /// <summary>Magnitude order of two non-NaN supported values (pseudo-denormals compare by value).</summary>
    private static int CompareMagnitude(Float80 a, Float80 b)
    {
        var (ea, sa) = MagnitudeKey(a);
        var (eb, sb) = MagnitudeKey(b);
        return ea != eb ? ea.CompareTo(eb) : sa.CompareTo(sb);
    }

    private static (int Exp, ulong Sig) MagnitudeKey(Float80 a)
    {
        if (a.IsZero)
        {
            return (int.MinValue, 0);
        }

        return a.Exponent == Float80.MaxExponent ? (int.MaxValue, 0) : Normalize(a);
    }
}
