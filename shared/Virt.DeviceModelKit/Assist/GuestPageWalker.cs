using System.Buffers.Binary;
using Virt.Shared.Abi;
using Virt.Shared.Runtime;

namespace Virt.DeviceModelKit.Assist;

/// <summary>
/// Guest-virtual (linear) to guest-physical translation for the device model, from the CRS area
/// and the page tables in the shared guest RAM: the i686's 32-bit paging with 4 KiB pages and,
/// with CR4.PSE, 4 MiB pages. Read only: the monitor's CPU has already walked the same buffer with
/// full checks (it sets the accessed and dirty bits and raises any #PF before the exit), so this
/// walker only refuses what it cannot map (not present, outside RAM) and never updates an entry.
/// </summary>
public sealed class GuestPageWalker(SharedRegion ram)
{
    private const uint Cr0Pg = 1u << 31, Cr4Pse = 1u << 4;

    /// <summary>The physical address of <paramref name="linear"/>, or null when it does not map to RAM.</summary>
    public ulong? Translate(in CrArea crs, uint linear)
    {
        ulong phys;
        if ((crs.Cr0 & Cr0Pg) == 0)
        {
            phys = linear;
        }
        else
        {
            uint? pde = ReadEntry((crs.Cr3 & ~0xFFFu) + ((linear >> 22) << 2));
            if (pde is not { } d || (d & 1) == 0) return null;
            if ((d & 0x80) != 0 && (crs.Cr4 & Cr4Pse) != 0)
            {
                phys = (d & 0xFFC0_0000u) | (linear & 0x3F_FFFFu);
            }
            else
            {
                uint? pte = ReadEntry((d & ~0xFFFu) + (((linear >> 12) & 0x3FF) << 2));
                if (pte is not { } t || (t & 1) == 0) return null;
                phys = (t & ~0xFFFu) | (linear & 0xFFFu);
            }
        }
        return phys < (ulong)ram.Size ? phys : null;
    }

    private uint? ReadEntry(ulong address) =>
        address + 4 <= (ulong)ram.Size ? BinaryPrimitives.ReadUInt32LittleEndian(ram.AsSpan((long)address, 4)) : null;
}
