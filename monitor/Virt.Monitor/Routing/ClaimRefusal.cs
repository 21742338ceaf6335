using Virt.Devices.Bus;
using Virt.Shared.Control;

namespace Virt.Monitor.Routing;

/// <summary>
/// A refused claim: the reason code decides on, and what the message needs (the range and device
/// asked for, its flags, the claim it overlaps, the RAM it falls in). <see cref="Message"/> is the
/// ClaimResult reason sent to the device model and printed on stderr, byte for byte the text
/// docs/control-protocol.md shows.
/// </summary>
public sealed record ClaimRefusal(ClaimRefusalReason Reason, BusRange Range, string Device, ClaimFlags Flags = ClaimFlags.None,
    BusClaim? Conflict = null, ulong RamSize = 0)
{
    public string Message => Reason switch
    {
        ClaimRefusalReason.UnknownSpace => $"unknown address space {(byte)Range.Space}",
        ClaimRefusalReason.UndefinedFlags => $"claim flags 0x{(uint)Flags:X} have undefined bits",
        ClaimRefusalReason.BatchedWritesWithoutRing => "batched writes need the OutBatchRing feature",
        ClaimRefusalReason.CachedReadsWithoutTable => "cached reads need the InValueTable feature",
        ClaimRefusalReason.CachedReadsOnMmio => "cached reads are for port ranges only",
        ClaimRefusalReason.PlatformEventsBatched => "platform events need synchronous writes (not BatchedWrites)",
        ClaimRefusalReason.PlatformEventsNotOwner => "platform events are for the device models the VM was started with (or one replacing them: virt attach --replace)",
        ClaimRefusalReason.DeviceNameLength => "device name must be 1-64 characters",
        ClaimRefusalReason.EmptyRange => $"{Range.Space} claim of length 0",
        ClaimRefusalReason.PortsPastEnd => $"port claim 0x{Range.Start:X}+0x{Range.Length:X} goes past port 0xFFFF",
        ClaimRefusalReason.MmioPast4GiB => $"MMIO claim 0x{Range.Start:X}+0x{Range.Length:X} goes past 4 GiB",
        ClaimRefusalReason.MmioInRam => $"MMIO claim {Range} overlaps guest RAM (0-0x{RamSize - 1:X})",
        ClaimRefusalReason.SharedMemoryOnPorts => "shared memory is for MMIO ranges only",
        ClaimRefusalReason.ConstantOnMmio => "constant ranges are for port ranges only (shared memory is the MMIO form)",
        ClaimRefusalReason.RegionWithOtherFlags => $"claim flags 0x{(uint)Flags:X}: SharedMemory and Constant take no other flag",
        ClaimRefusalReason.SharedMemoryOutsideHole => $"shared memory {Range} must be page aligned and inside the legacy VGA window 0xA0000-0xBFFFF of guest RAM (0-0x{RamSize - 1:X})",
        ClaimRefusalReason.TooManyClaims => "too many claims",
        ClaimRefusalReason.Overlap => $"{Range} for '{Device}' overlaps {Conflict?.Range} already claimed by {Conflict?.Owner}",
        _ => Reason.ToString(),
    };

    public override string ToString() => Message;
}
