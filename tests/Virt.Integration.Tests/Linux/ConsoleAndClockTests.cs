using Virt.Monitor.Terminal;
using Virt.Monitor.Vm;


namespace Virt.Integration.Tests.Linux;

/// <summary>The console's Ctrl-A escapes and the guest clock, on their own.</summary>
public class ConsoleAndClockTests
{
    private static (List<byte> Out, bool Quit, bool Going) Filter(bool escapes, params byte[][] chunks)
    {
        bool quit = false;
        var input = new ConsoleInput(Stream.Null, Stream.Null, escapes, () => quit = true);
        var output = new List<byte>();
        bool going = true;
        foreach (byte[] c in chunks) going &= input.Filter(c, output);
        return (output, quit, going);
    }

    [Fact]
    public void Ctrl_A_X_quits_even_split_across_reads()
    {
        var (output, quit, going) = Filter(true, "ls\r"u8.ToArray(), [0x01], "x"u8.ToArray());
        Assert.True(quit);
        Assert.False(going);
        Assert.Equal("ls\r"u8.ToArray(), output);
    }

    [Fact]
    public void Ctrl_A_Ctrl_A_sends_one_Ctrl_A_and_other_keys_pass_with_it()
    {
        var (output, quit, _) = Filter(true, [0x01, 0x01, (byte)'a', 0x01, (byte)'c']);
        Assert.False(quit);
        Assert.Equal(new byte[] { 0x01, (byte)'a', 0x01, (byte)'c' }, output);
    }

    [Fact]
    public void Piped_input_has_no_escapes()
    {
        var (output, quit, _) = Filter(false, [0x01, (byte)'x', (byte)'\n']);
        Assert.False(quit);
        Assert.Equal(new byte[] { 0x01, (byte)'x', (byte)'\n' }, output);
    }

    [Fact]
    public void Instruction_time_counts_instructions_and_follows_the_host_while_idle()
    {
        long retired = 0;
        var clock = GuestClock.Instructions(() => retired, nanosecondsPerInstruction: 10);
        Assert.Equal(0, clock.GetTimestamp());
        retired = 1_000_000;
        Assert.Equal(10_000_000, clock.GetTimestamp()); // 10 ms, whatever the host did meanwhile
        Thread.Sleep(30);
        Assert.Equal(10_000_000, clock.GetTimestamp()); // running guests do not age with the host
        clock.BeginIdle();
        Thread.Sleep(50);
        clock.EndIdle();
        long afterIdle = clock.GetTimestamp();
        Assert.InRange(afterIdle, 10_000_000 + 45_000_000, 10_000_000 + 5_000_000_000);
        Thread.Sleep(20);
        Assert.Equal(afterIdle, clock.GetTimestamp());
        Assert.Equal(500, clock.InstructionsWithin(TimeSpan.FromMicroseconds(5), 50_000));
        Assert.Equal(50_000, clock.InstructionsWithin(TimeSpan.FromSeconds(1), 50_000));
    }
}
