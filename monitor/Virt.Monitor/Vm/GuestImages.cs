using Virt.Monitor.Boot;
using Virt.Monitor.Cli;
using Virt.Monitor.Guests;

namespace Virt.Monitor.Vm;

/// <summary>The guest's files, read and checked before anything is created, so a bad image is a clear error.</summary>
public sealed record GuestImages(byte[]? Kernel, string KernelName, IReadOnlyList<BootModuleImage> Modules, byte[]? Bios)
{
    public static GuestImages Read(RunOptions o)
    {
        byte[]? kernel = null;
        string name = "";
        if (o.Demo)
        {
            kernel = DemoGuest.Build();
            name = "demo";
        }
        else if (o.Kernel is not null)
        {
            kernel = ReadFile(o.Kernel, "kernel");
            name = o.Kernel;
        }
        if (kernel is not null && MultibootElfLoader.Validate(kernel, o.MemoryBytes) is { } why)
            throw new InvalidDataException($"kernel {name}: {why}");
        var modules = o.Initrd.Select(f => new BootModuleImage(f, ReadFile(f, "initrd"))).ToList();
        byte[]? bios = null;
        if (o.Bios is not null)
        {
            bios = ReadFile(o.Bios, "BIOS");
            if (bios.Length == 0 || bios.Length > 16 << 20 || (bios.Length & 0xFFF) != 0)
                throw new InvalidDataException($"BIOS {o.Bios}: {bios.Length} bytes; expected a multiple of 4 KiB up to 16 MiB");
        }
        return new GuestImages(kernel, name, modules, bios);
    }

    private static byte[] ReadFile(string path, string what)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{what} {path}: no such file");
        return File.ReadAllBytes(path);
    }
}
