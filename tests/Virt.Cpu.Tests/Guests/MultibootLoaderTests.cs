using System.Text;
using Iced.Intel;
using Virt.Cpu.Execution;
using Virt.Cpu.State;
using Virt.Cpu.Tests.Support;
using Virt.Pc.Boot;
using static Iced.Intel.AssemblerRegisters;
using static Virt.Cpu.Tests.Guests.MultibootImages;

namespace Virt.Cpu.Tests.Guests;

public class MultibootLoaderTests
{
    private const uint Load = 0x10_0000;

    /// <summary>Stores EAX and EBX at 0x500/0x504, prints "OK" on port 0xE9, halts.</summary>
    private static byte[] Kernel(uint at)
    {
        var a = new Assembler(32);
        a.mov(__dword_ptr[0x500], eax);
        a.mov(__dword_ptr[0x504], ebx);
        a.mov(dx, 0xE9);
        a.mov(al, (byte)'O');
        a.@out(dx, al);
        a.mov(al, (byte)'K');
        a.@out(dx, al);
        a.hlt();
        return TestMachine.Assemble(a, at);
    }

    private static byte[] ValidElf(uint mbFlags = 3) =>
        Elf(Load, mbFlags,
            new Segment(Load, Load, Kernel(Load), 0x100),
            new Segment(0x20_0000, 0x20_0000, [1, 2, 3, 4], 0x3000)); // 0x2FFC bytes of bss

    private static string CString(TestMachine m, uint at)
    {
        var sb = new StringBuilder();
        for (byte b; (b = m.Memory.Read8(at)) != 0; at++) sb.Append((char)b);
        return sb.ToString();
    }

    [Fact]
    public void ElfKernelIsLoadedAndEnteredAsTheSpecSays()
    {
        using var m = new TestMachine(32 << 20);
        m.Memory.Load(0x20_0004, Enumerable.Repeat((byte)0xAA, 0x3000).ToArray()); // stale bytes where the bss goes
        var boot = MultibootLoader.Load(m.Cpu, ValidElf(), "console=ttyS0 quiet",
            [new BootModule("initrd.img root=/dev/ram", new byte[5000]), new BootModule("second", [9, 8, 7])]);

        Assert.Equal(Load, boot.Entry);
        Assert.Equal(Load, boot.KernelStart);
        Assert.Equal(0x20_3000u, boot.KernelEnd);
        Assert.Equal([1, 2, 3, 4], new[] { m.Memory.Read8(0x20_0000), m.Memory.Read8(0x20_0001), m.Memory.Read8(0x20_0002), m.Memory.Read8(0x20_0003) });
        for (uint a = 0x20_0004; a < 0x20_3000; a += 0x7FF) Assert.Equal(0, m.Memory.Read8(a));

        var s = m.Cpu.State;
        Assert.Equal(MultibootLoader.BootloaderMagic, s.Eax);
        Assert.Equal(boot.InfoAddress, s.Ebx);
        Assert.Equal(Load, s.Eip);
        Assert.Equal(ControlBits.CR0_PE, s.Cr0 & (ControlBits.CR0_PE | ControlBits.CR0_PG));
        Assert.Equal(0u, s.Eflags & (Flags.IF | Flags.VM));
        Assert.True(m.Memory.A20Enabled);
        for (int i = 0; i < 6; i++)
        {
            var seg = s.GetSegment(i);
            Assert.True(seg.Base == 0 && seg.Limit == 0xFFFF_FFFF && seg.Big, $"segment {i}: {seg}");
        }

        // Modules: page aligned after the kernel's bss, in order, with their strings.
        Assert.Equal(2, boot.Modules.Count);
        Assert.Equal(0x20_3000u, boot.Modules[0].Start);
        Assert.Equal(0x20_3000u + 5000, boot.Modules[0].End);
        Assert.Equal(0x20_5000u, boot.Modules[1].Start);
        Assert.Equal(9, m.Memory.Read8(0x20_5000));

        // The info structure.
        uint info = boot.InfoAddress;
        uint flags = m.Read32(info);
        Assert.Equal(0x24Du, flags); // mem, cmdline, mods, mmap, boot_loader_name
        Assert.Equal(640u, m.Read32(info + 4));
        Assert.Equal((32u << 10) - 1024, m.Read32(info + 8));
        Assert.Equal("console=ttyS0 quiet", CString(m, m.Read32(info + 16)));
        Assert.Equal(2u, m.Read32(info + 20));
        uint mods = m.Read32(info + 24);
        Assert.Equal(0x20_3000u, m.Read32(mods));
        Assert.Equal(0x20_3000u + 5000, m.Read32(mods + 4));
        Assert.Equal("initrd.img root=/dev/ram", CString(m, m.Read32(mods + 8)));
        Assert.Equal("second", CString(m, m.Read32(mods + 16 + 8)));
        Assert.Equal("Virt", CString(m, m.Read32(info + 64)));

        uint mmapLength = m.Read32(info + 44), mmap = m.Read32(info + 48);
        var entries = new List<(ulong Base, ulong Length, uint Type)>();
        for (uint e = mmap; e < mmap + mmapLength; e += m.Read32(e) + 4)
            entries.Add((m.Memory.Read64(e + 4), m.Memory.Read64(e + 12), m.Read32(e + 20)));
        Assert.Equal([(0UL, 0xA0000UL, 1u), (0xA0000UL, 0x60000UL, 2u), (0x10_0000UL, (32UL << 20) - 0x10_0000, 1u)], entries);

        // And the kernel runs: it sees the magic and the info pointer in EAX/EBX.
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal("OK", m.Console.ToString());
        Assert.Equal(0x2BAD_B002u, m.Read32(0x500));
        Assert.Equal(info, m.Read32(0x504));
    }

    [Fact]
    public void ElfLinkedHighEntersAtThePhysicalAlias()
    {
        using var m = new TestMachine();
        var file = Elf(0xC010_0000, 0, new Segment(Load, 0xC010_0000, Kernel(Load), 0x40));
        var boot = MultibootLoader.Load(m.Cpu, file, "", []);
        Assert.Equal(Load, boot.Entry);
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal("OK", m.Console.ToString());
    }

    [Fact]
    public void AoutKludgeLoadsAtTheHeaderAddressesAndZeroesBss()
    {
        using var m = new TestMachine();
        uint load = 0x30_0000;
        var code = Kernel(load + 0x40);
        m.Memory.Load(load + 0x40 + (uint)code.Length, Enumerable.Repeat((byte)0x55, 0x1000).ToArray());
        var file = Aout(load, code, loadEnd: 0, bssEnd: load + 0x2000);
        var boot = MultibootLoader.Load(m.Cpu, file, "x", [new BootModule("m", [42])]);

        Assert.True(boot.AoutKludge);
        Assert.Equal(load + 0x40, boot.Entry);
        Assert.Equal(load + 0x2000, boot.KernelEnd);
        Assert.Equal(0, m.Memory.Read8(load + 0x40 + (uint)code.Length + 0x10)); // bss zeroed
        Assert.Equal(42, m.Memory.Read8(load + 0x2000));                          // module after bss
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal("OK", m.Console.ToString());
    }

    [Fact]
    public void AoutKludgeWithExplicitLoadEndLoadsOnlyThatMuch()
    {
        using var m = new TestMachine();
        uint load = 0x30_0000;
        var code = Kernel(load + 0x40);
        var file = Aout(load, [.. code, 0xEE, 0xEE, 0xEE, 0xEE], loadEnd: load + 0x40 + (uint)code.Length, bssEnd: 0);
        var boot = MultibootLoader.Load(m.Cpu, file, "", []);
        Assert.Equal(load + 0x40 + (uint)code.Length, boot.KernelEnd);
        Assert.Equal(0, m.Memory.Read8(boot.KernelEnd)); // the trailing 0xEE bytes were not loaded
    }

    private static void AssertRejected<T>(byte[] file, string messagePart, long ram = 16 << 20) where T : Exception
    {
        using var m = new TestMachine(ram);
        var e = Assert.Throws<T>(() => MultibootLoader.Load(m.Cpu, file, "", []));
        Assert.Contains(messagePart, e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void RejectsAFileWithoutHeader() =>
        AssertRejected<InvalidDataException>(new byte[10000], "no Multiboot header");

    [Fact]
    public void RejectsAHeaderBeyondTheFirst8KiB()
    {
        var file = new byte[9000];
        WriteHeader(file, 8192, 0);
        AssertRejected<InvalidDataException>(file, "no Multiboot header");
    }

    [Fact]
    public void RejectsABadChecksum()
    {
        var file = ValidElf();
        file[ElfHeaderOffset(2) + 8] ^= 1;
        AssertRejected<InvalidDataException>(file, "bad checksum");
    }

    [Fact]
    public void RejectsA64BitElf()
    {
        var file = ValidElf();
        file[4] = 2;
        AssertRejected<InvalidDataException>(file, "64-bit");
    }

    [Fact]
    public void RejectsATruncatedElf()
    {
        var file = ValidElf();
        AssertRejected<InvalidDataException>(file[..(file.Length - 2)], "truncated");
    }

    [Fact]
    public void RejectsTruncatedProgramHeaders()
    {
        var file = ValidElf();
        Put16(file, 44, 200); // e_phnum far beyond the file
        AssertRejected<InvalidDataException>(file, "truncated");
    }

    [Fact]
    public void RejectsASegmentBeyondRam()
    {
        var file = Elf(Load, 0, new Segment(Load, Load, Kernel(Load), 0x40), new Segment(0x0FF0_0000, 0x0FF0_0000, [1], 0x1000));
        AssertRejected<InvalidDataException>(file, "beyond the end of guest RAM");
    }

    [Fact]
    public void RejectsASegmentInTheVgaHole()
    {
        var file = Elf(0xA_0000, 0, new Segment(0xA_0000, 0xA_0000, Kernel(0xA_0000), 0x40));
        AssertRejected<InvalidDataException>(file, "not RAM");
    }

    [Fact]
    public void RejectsAnEntryOutsideEverySegment()
    {
        var file = Elf(0x50_0000, 0, new Segment(Load, Load, Kernel(Load), 0x40));
        AssertRejected<InvalidDataException>(file, "entry point");
    }

    [Fact]
    public void RejectsANonElfWithoutAoutKludge()
    {
        var file = new byte[64];
        WriteHeader(file, 0, 0);
        AssertRejected<InvalidDataException>(file, "a.out kludge");
    }

    [Fact]
    public void RejectsAVideoModeRequest() =>
        AssertRejected<NotSupportedException>(ValidElf(mbFlags: 4), "video mode");

    [Fact]
    public void RejectsUnknownRequiredFlags() =>
        AssertRejected<NotSupportedException>(ValidElf(mbFlags: 0x20), "0x0020");

    [Fact]
    public void IgnoresUnknownOptionalFlags()
    {
        using var m = new TestMachine();
        MultibootLoader.Load(m.Cpu, ValidElf(mbFlags: 0x0002_0003), "", []);
    }

    [Fact]
    public void RejectsATruncatedAoutImage()
    {
        uint load = 0x30_0000;
        var file = Aout(load, Kernel(load + 0x40), loadEnd: load + 0x1000, bssEnd: 0);
        AssertRejected<InvalidDataException>(file, "truncated");
    }

    [Fact]
    public void RejectsAnAoutImageBeyondRam()
    {
        uint load = 0x30_0000;
        var file = Aout(load, Kernel(load + 0x40), loadEnd: 0, bssEnd: 0x0200_0000);
        AssertRejected<InvalidDataException>(file, "beyond the end of guest RAM");
    }

    [Fact]
    public void RejectsAnAoutHeaderAddressInconsistentWithTheFile()
    {
        uint load = 0x30_0000;
        var file = Aout(load, Kernel(load + 0x40), loadEnd: 0, bssEnd: 0);
        Put32(file, 0x10 + 12, load + 0x100); // header_addr claims the header is 0x100 into the image; it is 0x10 into the file
        AssertRejected<InvalidDataException>(file, "header_addr");
    }

    [Fact]
    public void RejectsModulesThatDoNotFit()
    {
        using var m = new TestMachine(4 << 20);
        var e = Assert.Throws<InvalidDataException>(() => MultibootLoader.Load(m.Cpu, ValidElf(), "", [new BootModule("big", new byte[3 << 20])]));
        Assert.Contains("module 'big'", e.Message);
    }
    /// <summary>
    /// A kernel linked at 0x8000 (kvm-unit-tests' flat images are) whose code and bss cover 0x9000, where
    /// the information area goes by default: the loader must put the area elsewhere, clear of the kernel
    /// and the module, and the kernel must run from intact code and read the command line through EBX.
    /// </summary>
    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void AKernelLinkedAt0x8000KeepsItsCodeAndFindsTheInformationElsewhere(string engine)
    {
        using var m = new TestMachine();
        Engines.Use(m, engine);
        const uint low = 0x8000, body = 0x9040;
        var jump = new Assembler(32);
        jump.jmp(body);
        var code = new Assembler(32);
        var next = code.CreateLabel();
        var done = code.CreateLabel();
        code.mov(__dword_ptr[0x500], ebx);
        code.mov(esi, __dword_ptr[ebx + 16]); // cmdline
        code.mov(dx, 0xE9);
        code.Label(ref next);
        code.lodsb();
        code.test(al, al);
        code.jz(done);
        code.@out(dx, al);
        code.jmp(next);
        code.Label(ref done);
        code.mov(al, (byte)'!');
        code.@out(dx, al);
        code.hlt();
        var image = new byte[body - low];
        TestMachine.Assemble(jump, low).CopyTo(image, 0);
        byte[] data = [.. image, .. TestMachine.Assemble(code, body)];
        var file = Elf(low, 3, new Segment(low, low, data, 0x3000)); // bss to 0xB000

        var boot = MultibootLoader.Load(m.Cpu, file, "flat.elf -smp 1", [new BootModule("mod", new byte[0x1800])]);

        Assert.Equal(0xB000u, boot.KernelEnd);
        Assert.Equal(0xB000u, boot.Modules[0].Start); // the module after the kernel, as before
        uint info = boot.InfoAddress;
        Assert.True(info >= 0xD000 || info + 0x100 <= low, $"information at 0x{info:X} collides with the kernel or the module");
        Assert.Equal(info, m.Cpu.State.Ebx);
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal("flat.elf -smp 1!", m.Console.ToString());
        Assert.Equal(info, m.Read32(0x500));
        Assert.Equal(0xB000u, m.Read32(m.Read32(info + 24))); // the module table, read back
    }

    /// <summary>
    /// A kernel that drops back to real mode, as kvm-unit-tests' realmode.flat does, and runs INT 0x11
    /// through the vector table at 0 without loading an IDTR: QEMU's -kernel leaves the BIOS's real-mode
    /// IDTR (base 0, limit 0x3FF), so the interrupt reaches the handler. With a limit of 0 the CPU takes
    /// #GP, #DF, and shuts down.
    /// </summary>
    [Theory, MemberData(nameof(Engines.All), MemberType = typeof(Engines))]
    public void AKernelBackInRealModeReachesItsHandlerThroughTheBiosVectorTable(string engine)
    {
        using var m = new TestMachine();
        Engines.Use(m, engine);
        const uint low = 0x8000, gdt = 0x8010, to16 = 0x8100, real = 0x8200, handler = 0x8300;
        var enter = new Assembler(32);                 // flat 32-bit entry: 16-bit code segment, then real mode
        enter.lgdt(__[low + 0x800]);
        enter.db(0xEA); enter.dd(to16); enter.dw(0x08); // jmp far 0x08:to16
        var leave = new Assembler(16);
        leave.mov(ax, 0x10);
        leave.mov(ds, ax);
        leave.mov(ss, ax);
        leave.mov(eax, cr0);
        leave.and(al, 0xFE);
        leave.mov(cr0, eax);
        leave.db(0xEA); leave.dw((ushort)real); leave.dw(0); // jmp far 0000:real
        var main = new Assembler(16);
        main.xor(ax, ax);
        main.mov(ds, ax);
        main.mov(ss, ax);
        main.mov(sp, 0x7000);
        main.mov(__word_ptr[0x11 * 4], (ushort)handler);
        main.mov(__word_ptr[0x11 * 4 + 2], 0);
        main.@int(0x11);
        main.mov(dx, 0xE9);
        main.mov(al, (byte)'!');
        main.@out(dx, al);
        main.hlt();
        var isr = new Assembler(16);
        isr.mov(dx, 0xE9);
        isr.mov(al, (byte)'I');
        isr.@out(dx, al);
        isr.iret();

        var image = new byte[0x900];
        TestMachine.Assemble(enter, low).CopyTo(image, 0);
        BitConverter.GetBytes(0x0000_0000_0000_0000UL).CopyTo(image, gdt - low);
        BitConverter.GetBytes(0x0000_9B00_0000_FFFFUL).CopyTo(image, gdt - low + 8);  // 16-bit code, base 0
        BitConverter.GetBytes(0x0000_9300_0000_FFFFUL).CopyTo(image, gdt - low + 16); // 16-bit data, base 0
        TestMachine.Assemble(leave, to16).CopyTo(image, to16 - low);
        TestMachine.Assemble(main, real).CopyTo(image, real - low);
        TestMachine.Assemble(isr, handler).CopyTo(image, handler - low);
        BitConverter.GetBytes((ushort)23).CopyTo(image, 0x800);
        BitConverter.GetBytes(gdt).CopyTo(image, 0x802);
        var file = Elf(low, 3, new Segment(low, low, image, (uint)image.Length));

        MultibootLoader.Load(m.Cpu, file, "", []);

        Assert.Equal(0u, m.Cpu.State.Idtr.Base);
        Assert.Equal(MultibootLoader.RealModeIdtLimit, m.Cpu.State.Idtr.Limit);
        Assert.Equal(StopReason.Halted, m.Run());
        Assert.Equal("I!", m.Console.ToString());
    }

    [Fact]
    public void TheInformationStaysAt0x9000WhenNothingIsLoadedThere()
    {
        using var m = new TestMachine(32 << 20);
        var boot = MultibootLoader.Load(m.Cpu, ValidElf(), "", []);
        Assert.Equal(MultibootLoader.InfoAddress, boot.InfoAddress);
    }
}
