namespace Virt.Cpu.Paravirt;

/// <summary>
/// The pvclock's TSC-to-nanoseconds scale: ns = ((delta shifted by <see cref="Shift"/>) x
/// <see cref="Mul"/>) &gt;&gt; 32, computed as KVM's kvm_get_time_scale does and applied as the
/// guest's pvclock_scale_delta does, so both sides compute the same nanoseconds.
/// </summary>
public readonly record struct PvClockScale(uint Mul, sbyte Shift)
{
    private const ulong NanosecondsPerSecond = 1_000_000_000;

    public static PvClockScale ForTscHz(long tscHz)
    {
        if (tscHz <= 0) throw new ArgumentOutOfRangeException(nameof(tscHz), "the TSC frequency must be positive");
        ulong tps64 = (ulong)tscHz, scaled64 = NanosecondsPerSecond;
        int shift = 0;
        while (tps64 > scaled64 * 2 || (tps64 & 0xFFFF_FFFF_0000_0000) != 0)
        {
            tps64 >>= 1;
            shift--;
        }
        uint tps32 = (uint)tps64;
        while (tps32 <= scaled64 || (scaled64 & 0xFFFF_FFFF_0000_0000) != 0)
        {
            if ((scaled64 & 0xFFFF_FFFF_0000_0000) != 0 || (tps32 & 0x8000_0000) != 0) scaled64 >>= 1;
            else tps32 <<= 1;
            shift++;
        }
        return new PvClockScale((uint)((scaled64 << 32) / tps32), (sbyte)shift);
    }

    /// <summary>Nanoseconds in <paramref name="delta"/> TSC ticks, exactly as the guest computes them.</summary>
    public ulong Scale(ulong delta)
    {
        delta = Shift < 0 ? delta >> -Shift : delta << Shift;
        return (ulong)((UInt128)delta * Mul >> 32);
    }

    /// <summary>
    /// True when the scale is a whole number of nanoseconds per tick with no rounding (1 GHz:
    /// Mul 2^31, Shift 1), so scale(a) + scale(b) = scale(a + b) and the page can be refreshed
    /// without the guest ever seeing time step back.
    /// </summary>
    public bool IsExact(long tscHz) =>
        (long)NanosecondsPerSecond % tscHz == 0 && Shift >= 0
        && ((UInt128)Mul << Shift) == (UInt128)((ulong)NanosecondsPerSecond / (ulong)tscHz) << 32;

    /// <summary>The TSC frequency in kHz the guest derives from the scale (Linux's pvclock_tsc_khz).</summary>
    public ulong TscKhz
    {
        get
        {
            ulong khz = (1_000_000UL << 32) / Mul;
            return Shift < 0 ? khz << -Shift : khz >> Shift;
        }
    }
}
