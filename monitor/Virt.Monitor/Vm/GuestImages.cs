using Virt.Cpu.Boot;
using Virt.Monitor.Cli;
using Virt.Monitor.Guests;

namespace Virt.Monitor.Vm;

/// <summary>The guest's files, read and checked before anything is created, so a bad image is a clear error.</summary>
public sealed record GuestImages(byte[]? Kernel, string KernelName, IReadOnlyList<BootModule> Modules, byte[]? Bios)
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
        if (kernel is not null)
        {
            // The header check runs before any file or process is created; the loader checks the rest.
            try { MultibootHeader.Find(kernel); }
            catch (InvalidDataException e) { throw new InvalidDataException($"kernel {name}: {e.Message}"); }
        }
        var modules = o.Initrd.Select(f => new BootModule(f, ReadFile(f, "initrd"))).ToList();
        byte[]? bios = null;
        if (o.Bios is not null)
        {
            bios = ReadFile(o.Bios, "BIOS");
            if (RomLoader.Check(bios.Length) is { } why) throw new InvalidDataException($"BIOS {o.Bios}: {why}");
        }
        return new GuestImages(kernel, name, modules, bios);
    }

    private static byte[] ReadFile(string path, string what)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{what} {path}: no such file");
        return File.ReadAllBytes(path);
    }
}
