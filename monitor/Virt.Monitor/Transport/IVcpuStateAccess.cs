using Virt.Shared.Abi;

namespace Virt.Monitor.Transport;

/// <summary>Copies VCPU state areas into the comm page (cache) and loads committed ones back (commit).</summary>
public interface IVcpuStateAccess
{
    /// <summary>The areas <see cref="Save"/> can fill.</summary>
    StateBits Savable { get; }

    /// <summary>The areas <see cref="Commit"/> accepts from a device model.</summary>
    StateBits Committable { get; }

    void Save(StateBits areas, ref CommPage page);

    /// <summary>Validates the committed areas and loads them into the VCPU; returns why they were refused, or null.</summary>
    string? Commit(StateBits areas, ref CommPage page);
}
