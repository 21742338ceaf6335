using Virt.Cpu.Execution;
using Virt.Cpu.Memory;
using Virt.Cpu.Paravirt;

namespace Virt.Cpu;

// The paravirtual interfaces (docs/paravirt.md): the hypervisor CPUID leaves, KVM's kvmclock and
// PV EOI MSRs, and VMCALL. Everything here is off unless the host sets Paravirt, so a CPU built
// without it is an ordinary i686.
public sealed partial class Cpu
{
    /// <summary>The paravirtual interfaces offered to the guest (none by default). Kept across RESET.</summary>
    public ParavirtFeatures Paravirt { get; set; }

    // MSR values as the guest wrote them (read back by RDMSR, as KVM does).
    private ulong _msrKvmSystemTime, _msrKvmWallClock, _msrKvmPvEoi;

    // The pvclock: guest nanoseconds are anchorNs + scale(tsc - anchorTsc); the anchor moves only when
    // the guest writes the TSC, so time stays continuous across that.
    private uint? _pvClockAddress;
    private PvClockScale _pvScale = PvClockScale.ForTscHz(1_000_000_000);
    private long _pvScaleHz = 1_000_000_000;
    private bool _pvScaleExact = true;
    private ulong _pvAnchorTsc, _pvAnchorNs;

    /// <summary>How often the monitor wrote the pvclock page (enables, refreshes, TSC writes).</summary>
    public long PvClockUpdates { get; private set; }

    /// <summary>VMCALLs executed (hypercalls and call-table entries that needed the monitor).</summary>
    public long Hypercalls { get; private set; }

    private bool HypervisorPresent => (Paravirt & (ParavirtFeatures.Kvm | ParavirtFeatures.CallTable)) != 0;

    private bool Offers(ParavirtFeatures f) => (Paravirt & (f | ParavirtFeatures.Kvm)) == (f | ParavirtFeatures.Kvm);

    private bool PvEoiOffered => Offers(ParavirtFeatures.KvmPvEoi) && InterruptController is IParavirtEoi { PvEoiAvailable: true };

    private void ResetParavirt()
    {
        _msrKvmSystemTime = _msrKvmWallClock = _msrKvmPvEoi = _msrCallTable = 0;
        _inlineHotCalls = false;
        _pvClockAddress = null;
        _pvAnchorTsc = _pvAnchorNs = 0;
        (InterruptController as IParavirtEoi)?.SetPvEoiWord(_mem, null);
    }

    /// <summary>The hypervisor leaves; false for a leaf that is not one of them (it behaves as on hardware).</summary>
    private bool ParavirtCpuid(uint leaf)
    {
        if ((Paravirt & ParavirtFeatures.CallTable) != 0)
        {
            switch (leaf)
            {
                case VirtAbi.CpuidSignature:
                    SetCpuid(VirtAbi.MaxLeaf, VirtAbi.SignatureEbx, VirtAbi.SignatureEcx, VirtAbi.SignatureEdx);
                    return true;
                case VirtAbi.CpuidInterface:
                    SetCpuid(VirtAbi.InterfaceVersion, VirtAbi.FeatureCallTable, VirtAbi.MsrCallTable, VirtAbi.Entries);
                    return true;
            }
        }
        if ((Paravirt & ParavirtFeatures.Kvm) != 0)
        {
            switch (leaf)
            {
                case KvmAbi.CpuidSignature:
                    SetCpuid(KvmAbi.CpuidFeatures, KvmAbi.SignatureEbx, KvmAbi.SignatureEcx, KvmAbi.SignatureEdx);
                    return true;
                case KvmAbi.CpuidFeatures:
                    {
                        uint features = KvmAbi.FeatureNopIoDelay;
                        if (Offers(ParavirtFeatures.KvmClock)) features |= KvmAbi.FeatureClocksource2 | KvmAbi.FeatureClocksourceStableBit;
                        if (PvEoiOffered) features |= KvmAbi.FeaturePvEoi;
                        SetCpuid(features, 0, 0, 0); // EDX: no hints (KVM_HINTS_REALTIME clear)
                        return true;
                    }
            }
        }
        return false;
    }

    private void SetCpuid(uint eax, uint ebx, uint ecx, uint edx)
    {
        R[0] = eax; R[3] = ebx; R[1] = ecx; R[2] = edx;
    }

    private bool ReadParavirtMsr(uint index, out ulong value)
    {
        value = 0;
        if (index == VirtAbi.MsrCallTable && (Paravirt & ParavirtFeatures.CallTable) != 0) { value = _msrCallTable; return true; }
        if ((index is KvmAbi.MsrSystemTimeNew or KvmAbi.MsrWallClockNew) && Offers(ParavirtFeatures.KvmClock))
        {
            value = index == KvmAbi.MsrSystemTimeNew ? _msrKvmSystemTime : _msrKvmWallClock;
            return true;
        }
        if (index == KvmAbi.MsrPvEoiEnable && PvEoiOffered) { value = _msrKvmPvEoi; return true; }
        return false;
    }

    /// <summary>A write to one of the paravirtual MSRs; false when it is not one (the caller raises #GP).</summary>
    private bool WriteParavirtMsr(uint index, ulong value)
    {
        if (index == VirtAbi.MsrCallTable && (Paravirt & ParavirtFeatures.CallTable) != 0)
        {
            WriteCallTableMsr(value);
            return true;
        }
        if (index == KvmAbi.MsrSystemTimeNew && Offers(ParavirtFeatures.KvmClock))
        {
            _msrKvmSystemTime = value;
            // Bits 63:1 hold the address; above 4 GiB there is nothing this CPU can write to.
            _pvClockAddress = (value & KvmAbi.MsrEnabled) != 0 && value >> 32 == 0 ? (uint)value & ~1u : null;
            if (_pvClockAddress is not null)
            {
                WritePvClock();
            }
            return true;
        }
        if (index == KvmAbi.MsrWallClockNew && Offers(ParavirtFeatures.KvmClock))
        {
            _msrKvmWallClock = value;
            if (value >> 32 == 0) WriteWallClock((uint)value);
            return true;
        }
        if (index == KvmAbi.MsrPvEoiEnable && PvEoiOffered)
        {
            // msr.rst: bits 63:2 are a 4-byte aligned address; bit 1 is reserved (KVM refuses a misaligned address with #GP).
            if ((value & 2) != 0 || value >> 32 != 0) throw Fault(Vectors.GP, 0);
            _msrKvmPvEoi = value;
            uint? word = (value & KvmAbi.MsrEnabled) != 0 && RamRange((uint)value & ~3u, 4) ? (uint)value & ~3u : null;
            ((IParavirtEoi)InterruptController!).SetPvEoiWord(_mem, word);
            return true;
        }
        return false;
    }

    /// <summary>The paravirtual MSRs the guest set, for a snapshot.</summary>
    private KeyValuePair<uint, ulong>[] ParavirtMsrsSet() =>
        new KeyValuePair<uint, ulong>[]
        {
            new(VirtAbi.MsrCallTable, _msrCallTable),
            new(KvmAbi.MsrSystemTimeNew, _msrKvmSystemTime),
            new(KvmAbi.MsrWallClockNew, _msrKvmWallClock),
            new(KvmAbi.MsrPvEoiEnable, _msrKvmPvEoi),
        }.Where(m => m.Value != 0).ToArray();

    /// <summary>
    /// A restore (the TSC and RAM already back): kvmclock's time goes on from its anchors, and each
    /// MSR is written again, which rewrites the pvclock page and the call table and tells the APIC
    /// where the PV EOI word is. A CPU model without the feature refuses the snapshot.
    /// </summary>
    private void RestoreParavirt(KeyValuePair<uint, ulong>[] msrs, ulong anchorTsc, ulong anchorNs)
    {
        _pvAnchorTsc = anchorTsc;
        _pvAnchorNs = anchorNs;
        foreach (KeyValuePair<uint, ulong> m in msrs)
            if (!WriteParavirtMsr(m.Key, m.Value))
                throw new ArgumentException($"the saved guest uses the paravirtual MSR 0x{m.Key:X8}, which this CPU model does not offer (--cpu)");
    }

    /// <summary>Whether [address, address + length) is guest RAM within one page (where the monitor may write structures).</summary>
    private bool RamRange(uint address, int length) =>
        (address & (PhysicalMemory.PageSize - 1)) + (uint)length <= PhysicalMemory.PageSize && _mem.KindOf(address) == PageKind.Ram;

    /// <summary>Guest nanoseconds since RESET on the pvclock's scale, at TSC value <paramref name="tsc"/>.</summary>
    private ulong PvNanoseconds(ulong tsc) => _pvAnchorNs + PvScale.Scale(tsc - _pvAnchorTsc);

    /// <summary>The scale for the current <see cref="TscHz"/> (recomputed only when the host changes it).</summary>
    private PvClockScale PvScale
    {
        get
        {
            if (_pvScaleHz != TscHz)
            {
                _pvScale = PvClockScale.ForTscHz(TscHz);
                _pvScaleExact = _pvScale.IsExact(TscHz);
                _pvScaleHz = TscHz;
            }
            return _pvScale;
        }
    }

    /// <summary>The guest wrote the TSC: the pvclock keeps its time and restarts from the new count.</summary>
    private void PvClockTscWritten(ulong oldTsc, ulong newTsc)
    {
        _pvAnchorNs = PvNanoseconds(oldTsc);
        _pvAnchorTsc = newTsc;
        if (_pvClockAddress is not null) WritePvClock();
    }

    /// <summary>
    /// Brings the pvclock page up to the present (each Run, so the guest's extrapolation stays
    /// short). Only with an exact scale: a rounded one would let the refreshed page read a
    /// nanosecond earlier than the old one, so then the page written at enable stays, one line.
    /// </summary>
    private void RefreshPvClock()
    {
        _ = PvScale;
        if (_pvScaleExact) WritePvClock();
    }

    /// <summary>Writes pvclock_vcpu_time_info with the version protocol: odd while it changes, even after.</summary>
    private void WritePvClock()
    {
        uint a = _pvClockAddress!.Value;
        if (!RamRange(a, KvmAbi.PvtiSize)) return; // documented: a page outside RAM is not written
        ulong tsc = ReadTsc();
        PvClockScale scale = PvScale;
        uint version = _mem.Read32(a + KvmAbi.PvtiVersion);
        version = (version | 1) + 1; // the next even number past anything the guest may hold
        _mem.Write32(a + KvmAbi.PvtiVersion, version - 1);
        _mem.Write32(a + 4, 0);
        _mem.Write64(a + KvmAbi.PvtiTscTimestamp, tsc);
        _mem.Write64(a + KvmAbi.PvtiSystemTime, PvNanoseconds(tsc));
        _mem.Write32(a + KvmAbi.PvtiMul, scale.Mul);
        _mem.Write8(a + KvmAbi.PvtiShift, (byte)scale.Shift);
        _mem.Write8(a + KvmAbi.PvtiFlags, KvmAbi.PvclockTscStable);
        _mem.Write16(a + 30, 0);
        _mem.Write32(a + KvmAbi.PvtiVersion, version);
        PvClockUpdates++;
    }

    /// <summary>pvclock_wall_clock: the UTC time at which the pvclock read 0.</summary>
    private void WriteWallClock(uint a)
    {
        if (!RamRange(a, KvmAbi.WallSize)) return;
        long sinceBoot = (long)Math.Min(PvNanoseconds(ReadTsc()), long.MaxValue / 2);
        long bootNs = (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100 - sinceBoot;
        uint version = (_mem.Read32(a + KvmAbi.WallVersion) | 1) + 1;
        _mem.Write32(a + KvmAbi.WallVersion, version - 1);
        _mem.Write32(a + KvmAbi.WallSec, (uint)(bootNs / 1_000_000_000));
        _mem.Write32(a + KvmAbi.WallNsec, (uint)(bootNs % 1_000_000_000));
        _mem.Write32(a + KvmAbi.WallVersion, version);
    }

    /// <summary>
    /// VMCALL: KVM's hypercall (number in EAX, result in EAX) and this monitor's call-table entries
    /// (<see cref="VirtAbi"/> numbers). Without a paravirtual interface it is #UD, as on a CPU
    /// without VMX; from CPL &gt; 0 it returns -KVM_EPERM, as KVM does.
    /// </summary>
    private void ExecVmcall()
    {
        // The guest firmware's handler reaches its call table whatever the guest was offered (Cpu.Firmware.cs).
        if (_inFirmware && VirtAbi.IsCall(R[0])) { ExecVirtCall(R[0]); return; }
        if (!HypervisorPresent) throw Fault(Vectors.UD);
        Hypercalls++;
        if (V86Mode || (ProtectedMode && Cpl != 0)) { R[0] = KvmAbi.ErrorPerm; return; }
        uint nr = R[0];
        if ((Paravirt & ParavirtFeatures.CallTable) != 0 && VirtAbi.IsCall(nr)) { ExecVirtCall(nr); return; }
        R[0] = (Paravirt & ParavirtFeatures.Kvm) != 0 && nr == KvmAbi.HcVapicPollIrq ? 0 : KvmAbi.ErrorNoSys;
    }
}
