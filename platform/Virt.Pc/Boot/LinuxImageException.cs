namespace Virt.Pc.Boot;

/// <summary>A kernel image or its boot parameters that <see cref="LinuxLoader"/> cannot boot; the message says why.</summary>
public sealed class LinuxImageException(string message) : Exception(message);
