namespace Virt.Shared.Abi;

/// <summary>
/// The state areas of the comm page, as bits of the state_wanted / state_cached / state_commit
/// words (NVMM's comm page model): cached = the area in the page is current; wanted = the device
/// model asks the monitor to fill it; commit = the device model changed it and the monitor must
/// load it into the VCPU before the guest runs again.
/// </summary>
[Flags]
public enum StateBits : uint
{
    None = 0,
    Gprs = 1u << 0,
    Segs = 1u << 1,
    Crs = 1u << 2,
    Drs = 1u << 3,
    Msrs = 1u << 4,
    Intr = 1u << 5,
    Fpu = 1u << 6,
    All = Gprs | Segs | Crs | Drs | Msrs | Intr | Fpu,
}
