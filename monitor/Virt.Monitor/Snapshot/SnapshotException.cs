namespace Virt.Monitor.Snapshot;

/// <summary>A snapshot that cannot be restored (truncated, corrupted, another format version, another RAM size) or saved: the message says which.</summary>
public sealed class SnapshotException(string message) : Exception(message);
