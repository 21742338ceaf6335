using System.Runtime.InteropServices;

namespace Virt.Shared.Abi;

/// <summary>Offset 0x000 of the comm page: identity and the NVMM-style state words.</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public struct CommHeader
{
    /// <summary><see cref="CommPageLayout.Magic"/>; written last by the monitor when the page is ready.</summary>
    [FieldOffset(0x00)] public uint Magic;
    [FieldOffset(0x04)] public ushort LayoutVersion;
    [FieldOffset(0x06)] public ushort PagesPerVcpu;
    [FieldOffset(0x08)] public uint VcpuIndex;
    [FieldOffset(0x0C)] public uint VcpuCount;
    /// <summary>Device model writes (with Status NeedState): the areas it wants filled.</summary>
    [FieldOffset(0x10)] public uint StateWanted;
    /// <summary>Monitor writes before it publishes an exit: the areas that are current in the page.</summary>
    [FieldOffset(0x14)] public uint StateCached;
    /// <summary>Device model writes before it completes: the areas the monitor must load into the VCPU.</summary>
    [FieldOffset(0x18)] public uint StateCommit;
    /// <summary>Monitor writes: the areas it caches speculatively on every exit (informative).</summary>
    [FieldOffset(0x1C)] public uint SpeculativeState;
}
