using System.Threading.Channels;

namespace Virt.Cpu.Translation.Native;

/// <summary>
/// The thread that emits native code for every VCPU that compiles in the background
/// (<see cref="Cpu.NativeCompileInBackground"/>): one thread for the process, so compiling takes at
/// most one core beside the VCPUs, and a VCPU never waits for it (it interprets the block until
/// the code is placed). Emission touches only the block's decoded instructions, so it needs no lock.
/// </summary>
internal static class NativeCompileWorker
{
    private static readonly Channel<Action> s_work = Channel.CreateUnbounded<Action>(new UnboundedChannelOptions { SingleReader = true });
    private static readonly Lazy<Thread> s_thread = new(() =>
    {
        var t = new Thread(Drain) { IsBackground = true, Name = "native-compile" };
        t.Start();
        return t;
    });

    public static void Post(Action work)
    {
        _ = s_thread.Value;
        s_work.Writer.TryWrite(work);
    }

    private static void Drain()
    {
        ChannelReader<Action> reader = s_work.Reader;
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            while (reader.TryRead(out Action? work)) work();
    }
}
