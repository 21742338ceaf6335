namespace Virt.Pc.Boot;

/// <summary>
/// A Multiboot module (QEMU's -initrd entries): its bytes and the string the kernel sees beside it
/// (conventionally the file name followed by arguments).
/// </summary>
public sealed record BootModule(string Name, byte[] Data);
