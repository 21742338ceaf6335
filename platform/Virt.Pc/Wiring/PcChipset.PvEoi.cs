using Virt.Cpu.Memory;
using Virt.Cpu.Paravirt;

namespace Virt.Pc.Wiring;

// KVM's PV EOI on the chipset's local APIC (msr.rst, MSR_KVM_PV_EOI_EN). The chipset is the CPU's
// INTR pin, so every question about a pending interrupt (the CPU's at a block boundary with IF set,
// the halted VCPU's wait) passes here first: that is where a PV EOI the guest made is noticed, as
// KVM notices it at every VM exit (apic_sync_pv_eoi_from_guest).
public sealed partial class PcChipset : IParavirtEoi
{
    private PhysicalMemory? _pvEoiMemory;
    private uint? _pvEoiWord;
    private bool _pvEoiPending; // we set the guest's bit and have not seen it cleared or taken it back

    public bool PvEoiAvailable => LocalApic is not null;

    public void SetPvEoiWord(PhysicalMemory memory, uint? address)
    {
        if (_pvEoiPending) TakeBackPvEoi();
        _pvEoiMemory = memory;
        _pvEoiWord = LocalApic is null ? null : address;
    }

    /// <summary>
    /// Before a snapshot: a PV EOI still offered is taken back (or ended, if the guest already
    /// skipped its EOI), so the saved APIC and guest word agree and no pending offer needs saving;
    /// the guest then ends that interrupt with an ordinary EOI write.
    /// </summary>
    public void SettlePvEoi()
    {
        if (_pvEoiPending) TakeBackPvEoi();
    }

    /// <summary>The guest cleared the bit we set: it skipped the EOI write, so the APIC ends the interrupt now.</summary>
    private void SyncPvEoiFromGuest()
    {
        if (!_pvEoiPending) return;
        if ((_pvEoiMemory!.Read32(_pvEoiWord!.Value) & KvmAbi.PvEoiPending) != 0) return;
        _pvEoiPending = false;
        LocalApic!.EndInterruptForGuest();
    }

    /// <summary>
    /// After an INTA: lets the guest skip the EOI of <paramref name="vector"/> when the APIC allows it
    /// (<see cref="Devices.Platform.LocalApic.MayEndWithoutEoi"/>). A bit still set from an earlier
    /// vector is taken back first (a nested interrupt): that handler then writes its EOI as usual.
    /// </summary>
    private void OfferPvEoi(int vector)
    {
        if (_pvEoiWord is not { } word || vector < 0) return;
        if (_pvEoiPending) TakeBackPvEoi();
        if (!LocalApic!.MayEndWithoutEoi(vector)) return;
        _pvEoiMemory!.Write32(word, _pvEoiMemory.Read32(word) | KvmAbi.PvEoiPending);
        _pvEoiPending = true;
    }

    private void TakeBackPvEoi()
    {
        uint word = _pvEoiWord!.Value;
        uint v = _pvEoiMemory!.Read32(word);
        _pvEoiPending = false;
        if ((v & KvmAbi.PvEoiPending) == 0) LocalApic!.EndInterruptForGuest(); // the guest had already ended it
        else _pvEoiMemory.Write32(word, v & ~KvmAbi.PvEoiPending);
    }
}
