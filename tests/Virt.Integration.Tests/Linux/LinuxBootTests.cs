using System.Text.RegularExpressions;
using Virt.Integration.Tests.Support;
using Xunit.Abstractions;

namespace Virt.Integration.Tests.Linux;

/// <summary>
/// Debian's i386 kernel and a busybox initramfs booted by the real `virt` and `virt-dm`
/// processes: to the marker, through uname -a, /proc/cpuinfo, ls / and a computation on the
/// serial console, then `poweroff -f`, which halts with interrupts off and ends virt with 0.
/// Each boot takes about a minute of interpreted guest code.
/// </summary>
public sealed class LinuxBootTests(ITestOutputHelper output)
{
    private static readonly TimeSpan BootLimit = TimeSpan.FromMinutes(10);

    [LinuxGuestFact]
    public Task Boots_runs_commands_and_powers_off_with_apics() => BootAndCheck(LinuxGuest.CommandLine, apic: true);

    /// <summary>The same machine with Linux told to use only the 8259 and the PIT.</summary>
    [LinuxGuestFact]
    public Task Boots_runs_commands_and_powers_off_with_noapic_nolapic() => BootAndCheck(LinuxGuest.CommandLine + " noapic nolapic", apic: false);

    /// <summary>
    /// KVM's paravirtual interface asked for explicitly (it is also the default): Linux finds KVM at
    /// 0x40000100, takes kvm-clock as its clocksource (the TSC frequency from the pvclock page, no
    /// PIT calibration) and boots as before (docs/paravirt.md).
    /// </summary>
    [LinuxGuestFact]
    public async Task Boots_as_a_kvm_paravirtual_guest_on_kvm_clock()
    {
        string console = await BootAndCheck(LinuxGuest.CommandLine, apic: true, ["--cpu", "i686,+pv"]);
        Assert.Contains("Hypervisor detected: KVM", console);
        Assert.Contains("kvm-clock: Using msrs 4b564d01 and 4b564d00", console);
        Assert.Contains("clocksource: Switched to clocksource kvm-clock", console);
        Assert.DoesNotContain("Fast TSC calibration", console);
        Assert.Matches(@"flags\s*:.*\bhypervisor\b", Section(console, "CMD-CPUINFO", "CMD-LS"));
    }

    /// <summary>
    /// COM1 placed in the monitor (`--place com1=monitor`, docs/placements.md): Linux's console runs with no
    /// round trip per register access, and the boot passes the same checks; no access to COM1 reaches virt-dm.
    /// </summary>
    [LinuxGuestFact]
    public async Task Boots_runs_commands_and_powers_off_with_com1_in_the_monitor()
    {
        string stats = Path.Combine(TempDir.Create("virt-place"), "stats.json");
        await BootAndCheck(LinuxGuest.CommandLine, apic: true, ["--place", "com1=monitor", "--stats", stats]);
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(stats));
        System.Text.Json.JsonElement root = doc.RootElement;
        Assert.True(root.GetProperty("devices").GetProperty("com1").GetProperty("tx_bytes").GetInt64() > 1000);
        long com1Exits = root.GetProperty("ports").EnumerateArray()
            .Where(p => p.GetProperty("port").GetInt32() is >= 0x3F8 and <= 0x3FF)
            .Sum(p => p.GetProperty("reads").GetInt64() + p.GetProperty("writes").GetInt64());
        // Every console access was the monitor's: the device model's round trips are far fewer than COM1's accesses.
        Assert.True(root.GetProperty("roundTrips").GetProperty("count").GetInt64() < com1Exits / 10,
            $"round trips {root.GetProperty("roundTrips").GetProperty("count")} for {com1Exits} COM1 accesses");
    }

    /// <summary>With the paravirtual interfaces off the guest sees an ordinary i686 and calibrates its TSC against the PIT.</summary>
    [LinuxGuestFact]
    public async Task Boots_with_the_paravirtual_interfaces_off_as_an_ordinary_i686()
    {
        string console = await BootAndCheck(LinuxGuest.CommandLine, apic: true, ["--cpu", "i686,-pv"]);
        Assert.DoesNotContain("Hypervisor detected", console);
        Assert.DoesNotContain("kvm-clock", console);
        Assert.Matches(@"clocksource: Switched to clocksource tsc", console);
        Assert.DoesNotMatch(@"flags\s*:.*\bhypervisor\b", Section(console, "CMD-CPUINFO", "CMD-LS"));
    }

    /// <summary>
    /// COM1 emulated by the guest's own firmware (--place com1=firmware, docs/firmware-reflection.md):
    /// Linux's 8250 driver finds a 16550A and the whole console runs through it, with no device-model
    /// round trip per register access.
    /// </summary>
    [LinuxGuestFact]
    public async Task Boots_runs_commands_and_powers_off_with_the_console_in_guest_firmware()
    {
        string console = await BootAndCheck(LinuxGuest.CommandLine, apic: true, ["--place", "com1=firmware"]);
        Assert.Contains("ttyS0 at I/O 0x3f8 (irq = 4, base_baud = 115200) is a 16550A", console);
        Assert.Matches(@"firmware: reflections [\d,]+, handler instructions [\d,]+", _stderr);
        Assert.DoesNotContain("abandoned", _stderr);
    }

    private string _stderr = "";

    private async Task<string> BootAndCheck(string commandLine, bool apic, string[]? extraArgs = null)
    {
        using var run = VirtRun.Start(["run", "-m", "256M", "--kernel", LinuxGuest.Kernel, "--initrd", LinuxGuest.Initrd, "--append", commandLine, .. extraArgs ?? []]);
        int status = await run.WaitAsync(BootLimit);
        string console = run.Stdout;
        _stderr = run.Stderr;
        output.WriteLine(run.Stderr);
        output.WriteLine(string.Join('\n', console.Split('\n').TakeLast(60)));

        Assert.True(status == 0, $"status {status}\n{run.Describe()}");
        Assert.Contains("halted with interrupts off", run.Stderr);
        Assert.Matches(@"VIRT-MARKER uptime: \d+\.\d+ \d+\.\d+", console);
        Assert.Contains("reboot: System halted", console);

        string uname = Section(console, "CMD-UNAME", "CMD-CPUINFO");
        Assert.Matches(@"^Linux \S+ 6\.1\.\S+-686 #1 SMP .* i686 GNU/Linux$", uname.Trim());

        string cpuinfo = Section(console, "CMD-CPUINFO", "CMD-LS");
        Assert.Matches(@"processor\s*: 0", cpuinfo);
        Assert.Matches(@"flags\s*:.* fpu .*\btsc\b.*\bcx8\b.*\bcmov\b", cpuinfo);
        Assert.Matches(@"bogomips\s*: \d+", cpuinfo);
        // The APIC flag follows the machine, and Linux clears it when told nolapic.
        Assert.Equal(apic, Regex.IsMatch(cpuinfo, @"flags\s*:.*\bapic\b"));

        // busybox colours ls on a terminal (ttyS0 is one): the escapes are not part of the names.
        string ls = Regex.Replace(Section(console, "CMD-LS", "CMD-CALC"), @"\x1b\[[0-9;]*m", "");
        foreach (string entry in new[] { "bin", "dev", "init", "proc", "sys" })
            Assert.Matches($@"(^|\s){entry}(\s|$)", ls);

        Assert.Contains("CMD-CALC 42 5050", console);
        Assert.Contains("VIRT-DONE", console);
        Assert.Empty(run.LeftoverVmDirectories());
        return console;
    }

    /// <summary>The console lines after the line <paramref name="from"/> and before <paramref name="to"/>.</summary>
    private static string Section(string console, string from, string to)
    {
        int start = console.IndexOf(from + "\n", StringComparison.Ordinal);
        if (start < 0) start = console.IndexOf(from + "\r\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"no {from} line in the console output:\n{console}");
        int end = console.IndexOf(to, start + from.Length, StringComparison.Ordinal);
        Assert.True(end >= 0, $"no {to} after {from}:\n{console}");
        return console[(start + from.Length)..end];
    }
}
