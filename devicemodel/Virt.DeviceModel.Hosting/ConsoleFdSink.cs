using System.Runtime.InteropServices;
using Virt.Devices.Sinks;

namespace Virt.DeviceModel.Hosting;

/// <summary>
/// The console output of a device model, written so that a kill -9 at any moment neither loses nor
/// doubles a byte when the monitor replays what this process had not confirmed (docs/abi.md, "After a
/// failure"). Per byte: wait until the descriptor can take it (poll, where a kill loses nothing),
/// confirm the access that produced it in the comm page, then write(2). Once the thread is inside a
/// write that cannot block, the kernel finishes it even if SIGKILL arrives; confirming after the
/// write instead would leave the whole system call as a window in which the byte is out but not
/// confirmed (then replayed: doubled). What remains is the few instructions between the confirming
/// store and the system call, and a write that blocks after all because another process filled the
/// same pipe in between (both lose the byte rather than double it).
/// </summary>
public sealed unsafe partial class ConsoleFdSink(int fd, Action confirm) : IByteSink
{
    private const short POLLOUT = 4;
    private const int EINTR = 4, EAGAIN = 11;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(int fd, byte* buffer, nuint count);

    public void Write(byte value)
    {
        bool confirmed = false;
        while (true)
        {
            var p = new PollFd { Fd = fd, Events = POLLOUT };
            // Writable, or an error/hang-up the write below reports; EINTR: ask again.
            if (Poll(&p, 1, -1) < 0 && Marshal.GetLastPInvokeError() == EINTR) continue;
            if (!confirmed)
            {
                confirm();
                confirmed = true;
            }
            nint n = Write(fd, &value, 1);
            if (n == 1) return;
            int errno = Marshal.GetLastPInvokeError();
            if (n < 0 && errno is EINTR or EAGAIN) continue;
            return; // the console is gone (EPIPE, EIO): the byte goes nowhere, as on a disconnected line
        }
    }
}
