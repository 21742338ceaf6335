using Virt.Monitor.Cli;
using Virt.Monitor.Guests;
using Virt.Pc.Boot;

namespace Virt.Monitor.Vm;

/// <summary>How --kernel is booted, told apart by the image's own headers (as QEMU's -kernel does).</summary>
public enum KernelFormat
{
    None,
    /// <summary>A Multiboot (v1) ELF or a.out-kludge image; --initrd files are its modules.</summary>
    Multiboot,
    /// <summary>A Linux bzImage (setup header "HdrS", boot protocol 2.04+); --initrd files are concatenated into its initrd.</summary>
    Linux,
}

/// <summary>The guest's files, read and checked before anything is created, so a bad image is a clear error.</summary>
public sealed record GuestImages(byte[]? Kernel, string KernelName, IReadOnlyList<BootModule> Modules, byte[]? Bios)
{
    public KernelFormat Format { get; init; }

    /// <summary>For <see cref="KernelFormat.Linux"/>: the initrd files, concatenated (cpio archives may be).</summary>
    public byte[] Initrd { get; init; } = [];

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
            kernel = ReadFile(o.Kernel, "kernel", o.MemoryBytes);
            name = o.Kernel;
        }
        var modules = new List<BootModule>();
        long initrdBytes = 0;
        foreach (string f in o.Initrd)
        {
            // Each file and all of them together must fit in guest RAM: nothing larger can be loaded.
            byte[] data = ReadFile(f, "initrd", o.MemoryBytes - initrdBytes);
            initrdBytes += data.Length;
            modules.Add(new BootModule(f, data));
        }
        KernelFormat format = KernelFormat.None;
        byte[] initrd = [];
        if (kernel is not null)
        {
            // The header checks run before any file or process is created; the loaders check the rest.
            format = Detect(kernel, name);
            if (format == KernelFormat.Linux)
            {
                initrd = modules.Count == 1 ? modules[0].Data : modules.SelectMany(m => m.Data).ToArray();
                try { LinuxLoader.Check(kernel, initrd.Length, o.Append, (uint)o.MemoryBytes); }
                catch (LinuxImageException e) { throw new InvalidDataException($"kernel {name}: {e.Message}"); }
                modules = [];
            }
        }
        byte[]? bios = null;
        if (o.Bios is not null)
        {
            bios = ReadFile(o.Bios, "BIOS", RomLoader.MaxRomSize);
            if (RomLoader.Check(bios.Length) is { } why) throw new InvalidDataException($"BIOS {o.Bios}: {why}");
        }
        return new GuestImages(kernel, name, modules, bios) { Format = format, Initrd = initrd };
    }

    /// <summary>A bzImage has "HdrS" at 0x202; otherwise it must carry a Multiboot header in its first 8 KiB.</summary>
    public static KernelFormat Detect(byte[] kernel, string name)
    {
        if (kernel.Length >= LinuxSetupHeader.HeaderMagicOffset + 4
            && BitConverter.ToUInt32(kernel, LinuxSetupHeader.HeaderMagicOffset) == LinuxSetupHeader.HeaderMagic)
        {
            try { LinuxSetupHeader.Parse(kernel); }
            catch (LinuxImageException e) { throw new InvalidDataException($"kernel {name}: a Linux image, but {e.Message}"); }
            return KernelFormat.Linux;
        }
        try { MultibootHeader.Find(kernel); }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"kernel {name}: neither a Linux bzImage (no \"HdrS\" setup header at 0x202) nor a Multiboot image ({e.Message})");
        }
        return KernelFormat.Multiboot;
    }

    /// <summary>A regular file no larger than <paramref name="maxBytes"/> (bounded by what a byte array can hold).</summary>
    private static byte[] ReadFile(string path, string what, long maxBytes) =>
        InputFile.ReadAll(path, what, Math.Min(maxBytes, Array.MaxLength - 1L));
}
