using Virt.Integration.Tests.Support;
using Virt.Shared.Control;

namespace Virt.Integration.Tests.Io;

/// <summary>Claim flags carry a range's access policy: only defined bits, only with the feature that carries them, cached reads only for ports.</summary>
public class ClaimPolicyTests
{
    private static async Task<(ControlConnection Conn, VirtRun Run)> AttachAsync(Features offered, params string[] extra)
    {
        string kernel = TempDir.WriteImage(TestGuests.HaltNoIo());
        var run = VirtRun.Start(["run", "--kernel", kernel, "--dm", "external", .. extra]);
        await run.WaitUntilAsync(() => run.LeftoverVmDirectories().Any(d => File.Exists(Path.Combine(d, "control.sock"))), "the control socket");
        string dir = run.LeftoverVmDirectories().Single();
        byte[] secret = Convert.FromHexString(File.ReadAllText(Path.Combine(dir, "secret")));
        var conn = await ControlConnection.ConnectAsync(Path.Combine(dir, "control.sock"));
        await conn.SendAsync(new Hello(Protocol.Version, offered, secret, "policy-test", Environment.ProcessId).ToFrame());
        var welcome = await conn.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(MessageType.Welcome, welcome!.Value.Type);
        return (conn, run);
    }

    private static async Task<ClaimResult> ClaimAsync(ControlConnection c, uint id, byte space, ulong start, ulong length, ClaimFlags flags)
    {
        await c.SendAsync(new Claim(id, space, start, length, (uint)flags, $"dev{id}").ToFrame());
        var f = await c.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(MessageType.ClaimResult, f!.Value.Type);
        return ClaimResult.Read(f.Value.Payload);
    }

    [Fact]
    public async Task Claim_flags_are_checked_against_the_negotiated_features()
    {
        var (c, run) = await AttachAsync(Features.OutBatchRing | Features.InValueTable);
        using (run)
        await using (c)
        {
            Assert.Contains("undefined bits", (await ClaimAsync(c, 1, 0, 0x300, 4, (ClaimFlags)8)).Reason);
            Assert.Contains("platform events need synchronous writes", (await ClaimAsync(c, 1, 0, 0x300, 4, ClaimFlags.PlatformEvents | ClaimFlags.BatchedWrites)).Reason);
            Assert.Contains("port ranges only", (await ClaimAsync(c, 2, 1, 0xFEB0_0000, 0x1000, ClaimFlags.CachedReads)).Reason);
            Assert.True((await ClaimAsync(c, 3, 1, 0xFEB0_0000, 0x1000, ClaimFlags.BatchedWrites)).Accepted);
            Assert.True((await ClaimAsync(c, 4, 0, 0x300, 4, ClaimFlags.BatchedWrites | ClaimFlags.CachedReads)).Accepted);
            await c.SendAsync(Ready.ToFrame());
            Assert.Equal(MessageType.Shutdown, (await c.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(30)))!.Value.Type);
            Assert.Equal(0, await run.WaitAsync());
        }
    }

    [Fact]
    public async Task Io_naive_takes_the_ring_and_the_table_away()
    {
        var (c, run) = await AttachAsync(Features.OutBatchRing | Features.InValueTable | Features.CommitOnCompletion, "--io", "naive", "--state", "naive");
        using (run)
        await using (c)
        {
            Assert.Contains("OutBatchRing", (await ClaimAsync(c, 1, 0, 0x300, 4, ClaimFlags.BatchedWrites)).Reason);
            Assert.Contains("InValueTable", (await ClaimAsync(c, 2, 0, 0x300, 4, ClaimFlags.CachedReads)).Reason);
            Assert.True((await ClaimAsync(c, 3, 0, 0x300, 4, ClaimFlags.None)).Accepted);
            await c.SendAsync(Ready.ToFrame());
            Assert.Equal(MessageType.Shutdown, (await c.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(30)))!.Value.Type);
            Assert.Equal(0, await run.WaitAsync());
        }
    }
}
