using Virt.Cpu.Memory;

namespace Virt.Cpu.Paravirt;

/// <summary>
/// An interrupt controller that offers KVM's PV EOI: after it delivers an edge-triggered vector
/// that is the only one in service, it sets bit 0 of the guest's PV EOI word; a guest that clears
/// the bit skips its EOI write and the controller ends the interrupt itself the next time it is
/// asked for an interrupt (Linux's kvm_guest_apic_eoi_write, KVM's apic_sync_pv_eoi_from_guest).
/// </summary>
public interface IParavirtEoi
{
    /// <summary>Whether PV EOI can be offered now (a local APIC is present).</summary>
    bool PvEoiAvailable { get; }

    /// <summary>Starts using the 4-byte word at <paramref name="address"/> in <paramref name="memory"/>; null stops.</summary>
    void SetPvEoiWord(PhysicalMemory memory, uint? address);
}
