using Virt.Integration.Tests.Support;
using Virt.Shared.Control;

namespace Virt.Integration.Tests;

/// <summary>
/// The control socket with a raw test client as the device model (virt run --dm external): the
/// secret is required, overlapping claims are refused with a clear reason, a good attach runs the guest.
/// </summary>
public class AttachTests
{
    private static async Task<(MessageType Type, byte[] Payload)?> HelloAsync(ControlConnection c, byte[] secret)
    {
        await c.SendAsync(new Hello(Protocol.Version, Features.IrqLines | (Features)(1UL << 40), secret, "raw-test-client", Environment.ProcessId).ToFrame());
        return await c.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Secret_is_required_and_overlapping_claims_are_refused()
    {
        string kernel = TempDir.WriteImage(TestGuests.HaltNoIo());
        using var run = VirtRun.Start(["run", "--kernel", kernel, "--dm", "external"]);
        await run.WaitUntilAsync(() => run.LeftoverVmDirectories().Any(d => File.Exists(Path.Combine(d, "control.sock"))), "the control socket");
        string dir = run.LeftoverVmDirectories().Single();
        string socket = Path.Combine(dir, "control.sock");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(dir));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir, "secret")));

        // Wrong secret: refused.
        await using (var c = await ControlConnection.ConnectAsync(socket))
        {
            var reply = await HelloAsync(c, new byte[Protocol.SecretSize]);
            Assert.Equal(MessageType.Refused, reply!.Value.Type);
            Assert.Equal(RefusalCode.BadSecret, Refused.Read(reply.Value.Payload).Code);
        }
        // No Hello at all (a client that sends something else first): refused.
        await using (var c = await ControlConnection.ConnectAsync(socket))
        {
            await c.SendAsync(Ready.ToFrame());
            var reply = await c.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(MessageType.Refused, reply!.Value.Type);
            Assert.Equal(RefusalCode.ProtocolError, Refused.Read(reply.Value.Payload).Code);
        }

        // The right secret, from the 0600 file: welcomed, features negotiated down to what the monitor has.
        byte[] secret = Convert.FromHexString(File.ReadAllText(Path.Combine(dir, "secret")));
        await using var dm = await ControlConnection.ConnectAsync(socket);
        var welcome = await HelloAsync(dm, secret);
        Assert.Equal(MessageType.Welcome, welcome!.Value.Type);
        Welcome w = Welcome.Read(welcome.Value.Payload);
        Assert.Equal(Features.IrqLines, w.Features);
        // "ram" is a link to the monitor's sealed memfd: its size is the opened file's (docs/abi.md).
        using (var ramFile = new FileStream(Path.Combine(dir, w.RamFile), FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
            Assert.Equal(16UL << 20, w.RamSize * 0 + (ulong)ramFile.Length / 4);

        // A second device model while one is attaching: welcomed too, with its own comm region.
        await using (var c = await ControlConnection.ConnectAsync(socket))
        {
            var reply = await HelloAsync(c, secret);
            Assert.Equal(MessageType.Welcome, reply!.Value.Type);
            Assert.NotEqual(w.CommFile, Welcome.Read(reply.Value.Payload).CommFile);
        }

        // Claims: the PIC belongs to the monitor; two claims of ours may not overlap; RAM is not MMIO.
        async Task<ClaimResult> ClaimAsync(uint id, byte space, ulong start, ulong length)
        {
            await dm.SendAsync(new Claim(id, space, start, length, 0, $"dev{id}").ToFrame());
            var f = await dm.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(MessageType.ClaimResult, f!.Value.Type);
            return ClaimResult.Read(f.Value.Payload);
        }
        var pic = await ClaimAsync(1, 0, 0x20, 2);
        Assert.False(pic.Accepted);
        Assert.Contains("'pic' (monitor)", pic.Reason);
        Assert.True((await ClaimAsync(2, 0, 0x3F8, 8)).Accepted);
        var overlap = await ClaimAsync(3, 0, 0x3FC, 8);
        Assert.False(overlap.Accepted);
        Assert.Contains("overlaps ports 0x3F8-0x3FF already claimed by 'dev2' (device model 1 'raw-test-client')", overlap.Reason);
        Assert.False((await ClaimAsync(4, 1, 0x1000, 0x1000)).Accepted);
        Assert.True((await ClaimAsync(5, 1, 0xFED0_0000, 0x1000)).Accepted); // 0xFEC00000 and 0xFEE00000 are the monitor's APICs

        // Ready: the guest runs (CLI; HLT) and the VM ends with status 0 and a Shutdown to us.
        await dm.SendAsync(Ready.ToFrame());
        var shutdown = await dm.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(MessageType.Shutdown, shutdown!.Value.Type);
        Assert.Equal(0, await run.WaitAsync());
        Assert.Contains("wrong secret", run.Stderr);
        Assert.Empty(run.LeftoverVmDirectories());
    }

    [Fact]
    public async Task Device_model_without_a_secret_is_refused_before_it_connects()
    {
        // virt-dm itself refuses to start without the secret in its environment.
        string dmPath = Path.Combine(AppContext.BaseDirectory, "virt-dm");
        var (file, prefix) = File.Exists(dmPath) ? (dmPath, Array.Empty<string>()) : ("dotnet", new[] { Path.Combine(AppContext.BaseDirectory, "virt-dm.dll") });
        var psi = new System.Diagnostics.ProcessStartInfo(file) { RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in prefix) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("--socket");
        psi.ArgumentList.Add("/nonexistent/control.sock");
        psi.Environment.Remove(Protocol.SecretEnvironmentVariable);
        using var p = System.Diagnostics.Process.Start(psi)!;
        string err = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.Equal(2, p.ExitCode);
        Assert.Contains("no secret", err);
    }
}
