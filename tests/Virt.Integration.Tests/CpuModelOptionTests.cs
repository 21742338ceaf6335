using Virt.Cpu.Paravirt;
using Virt.Integration.Tests.Support;
using Virt.Monitor.Cli;

namespace Virt.Integration.Tests;

/// <summary>`--cpu i686[,+F|-F|F=on|off]`: the paravirtual features on by default, switched QEMU-style, bad names refused.</summary>
public sealed class CpuModelOptionTests
{
    private static ParavirtFeatures Parse(params string[] cpu) =>
        RunOptions.Parse(["--demo", .. cpu.SelectMany(c => new[] { "--cpu", c })]).Paravirt;

    [Fact]
    public void Every_paravirtual_interface_is_on_by_default() => Assert.Equal(ParavirtFeatures.All, Parse());

    [Theory]
    [InlineData("i686,-pv", ParavirtFeatures.None)]
    [InlineData("i686,-kvm-pv", ParavirtFeatures.CallTable | ParavirtFeatures.InlineHotCalls)]
    [InlineData("i686,kvm=off", ParavirtFeatures.CallTable | ParavirtFeatures.InlineHotCalls)]
    [InlineData("i686,-virt-pv-inline", ParavirtFeatures.All & ~ParavirtFeatures.InlineHotCalls)]
    [InlineData("i686,-kvmclock", ParavirtFeatures.All & ~ParavirtFeatures.KvmClock)]
    [InlineData("i686,kvm-pv-eoi=off,-virt-pv", ParavirtFeatures.Kvm | ParavirtFeatures.KvmClock)]
    [InlineData("i686,-pv,+kvmclock,+kvm", ParavirtFeatures.Kvm | ParavirtFeatures.KvmClock | ParavirtFeatures.KvmPvEoi)]
    [InlineData("i686", ParavirtFeatures.All)]
    public void Features_switch_on_and_off_in_order(string spec, ParavirtFeatures expected) => Assert.Equal(expected, Parse(spec));

    [Fact]
    public void Later_cpu_options_build_on_earlier_ones() => Assert.Equal(ParavirtFeatures.CallTable | ParavirtFeatures.InlineHotCalls, Parse("i686,-pv", "i686,+virt-pv"));

    [Theory]
    [InlineData("pentium4", "unknown model 'pentium4'")]
    [InlineData("i686,+kvm-steal-time", "unknown feature 'kvm-steal-time'")]
    public async Task A_bad_cpu_is_a_clear_error_and_status_2(string spec, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => Parse(spec));
        Assert.Contains(message, e.Message);
        using var run = VirtRun.Start(["run", "--demo", "--cpu", spec]);
        Assert.Equal(2, await run.WaitAsync(TimeSpan.FromMinutes(2)));
        Assert.Contains(message, run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
    }
}
