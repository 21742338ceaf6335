using System.Text;

namespace Virt.Monitor.Debug;

/// <summary>
/// The GDB remote protocol's commands, one packet in, one reply out: the dispatcher of the stub.
/// Registers, memory and breakpoint changes need the guest stopped (gdb's all-stop mode only sends
/// them then; from anyone else they get E02). Every malformed packet gets an error reply (E01 bad
/// syntax, E14 bad address, E22 bad value, E28 no room), every unknown one the empty reply that
/// means "not supported"; nothing a peer sends throws.
/// </summary>
public sealed class GdbCommands(GuestDebugger debugger)
{
    public const string BadSyntax = "E01", NotStopped = "E02", BadAddress = "E14", BadValue = "E22", NoRoom = "E28";

    /// <summary>The most bytes one m packet returns: the hex reply then fits in the announced packet size.</summary>
    public const int MaxMemoryRead = (GdbPacketReader.MaxPacket - 16) / 2;

    private bool _swbreak, _hwbreak;

    public (string? Reply, GdbAction Action) Handle(string p)
    {
        if (p.Length == 0) return ("", GdbAction.None);
        switch (p[0])
        {
            case '?': return (null, GdbAction.ReportStop);
            case 'g': return (p.Length == 1 ? ReadAllRegisters() : BadSyntax, GdbAction.None);
            case 'G': return (WriteAllRegisters(p.AsSpan(1)), GdbAction.None);
            case 'p': return (ReadRegister(p.AsSpan(1)), GdbAction.None);
            case 'P': return (WriteRegister(p.AsSpan(1)), GdbAction.None);
            case 'm': return (ReadMemory(p.AsSpan(1)), GdbAction.None);
            case 'M': return (WriteMemory(p.AsSpan(1)), GdbAction.None);
            case 'c': return Resume(p.AsSpan(1), step: false);
            case 's': return Resume(p.AsSpan(1), step: true);
            case 'C' or 'S': return ResumeWithSignal(p.AsSpan(1), step: p[0] == 'S');
            case 'Z' or 'z': return (Breakpoint(p.AsSpan(1), insert: p[0] == 'Z'), GdbAction.None);
            case 'H': return ("OK", GdbAction.None);  // one thread: every thread selection is it
            case 'T': return ("OK", GdbAction.None);  // thread alive
            case 'D': return ("OK", GdbAction.Detach);
            case 'k': return (null, GdbAction.Kill);
            case 'q': return (Query(p), GdbAction.None);
            case 'v': return VPacket(p);
            default: return ("", GdbAction.None);
        }
    }

    /// <summary>The stop reply: T with the signal, what stopped the guest and the thread; W with the status once the VM has ended.</summary>
    public string StopReply(StopEvent stop)
    {
        if (stop.Kind == StopKind.Exited) return $"W{stop.ExitStatus & 0xFF:x2}";
        var sb = new StringBuilder($"T{stop.Signal:x2}");
        switch (stop.Kind)
        {
            case StopKind.Watchpoint:
                string name = stop.Watch switch { WatchKind.Read => "rwatch", WatchKind.Access => "awatch", _ => "watch" };
                sb.Append($"{name}:{stop.Address:x};");
                break;
            case StopKind.SoftwareBreakpoint when _swbreak: sb.Append("swbreak:;"); break;
            case StopKind.HardwareBreakpoint when _hwbreak: sb.Append("hwbreak:;"); break;
        }
        sb.Append("thread:1;");
        return sb.ToString();
    }

    private string Query(string p)
    {
        if (p.StartsWith("qSupported", StringComparison.Ordinal))
        {
            // gdb says which stop reasons it understands; the PC is never moved past a breakpoint here, so it needs no adjusting.
            _swbreak = p.Contains("swbreak+", StringComparison.Ordinal);
            _hwbreak = p.Contains("hwbreak+", StringComparison.Ordinal);
            return $"PacketSize={GdbPacketReader.MaxPacket:x};qXfer:features:read+;vContSupported+"
                + (_swbreak ? ";swbreak+" : "") + (_hwbreak ? ";hwbreak+" : "");
        }
        if (p.StartsWith("qXfer:features:read:", StringComparison.Ordinal)) return ReadFeatures(p.AsSpan("qXfer:features:read:".Length));
        return p switch
        {
            "qAttached" => "1",          // the guest was there before the debugger: detaching leaves it running
            "qC" => "QC1",
            "qfThreadInfo" => "m1",
            "qsThreadInfo" => "l",
            _ when p.StartsWith("qSymbol", StringComparison.Ordinal) => "OK",
            _ => "",
        };
    }

    private static string ReadFeatures(ReadOnlySpan<char> args)
    {
        // target.xml:OFFSET,LENGTH
        int colon = args.IndexOf(':');
        if (colon < 0) return BadSyntax;
        if (!args[..colon].SequenceEqual("target.xml")) return BadValue;
        if (!TryAddressLength(args[(colon + 1)..], out ulong offset, out ulong length)) return BadSyntax;
        string xml = I386Registers.TargetXml;
        if (offset >= (ulong)xml.Length) return "l";
        int n = (int)Math.Min(Math.Min(length, (ulong)xml.Length - offset), MaxMemoryRead);
        bool last = (ulong)n + offset >= (ulong)xml.Length;
        return (last ? "l" : "m") + xml.Substring((int)offset, n);
    }

    private (string?, GdbAction) VPacket(string p)
    {
        if (p == "vCont?") return ("vCont;c;C;s;S", GdbAction.None);
        if (p.StartsWith("vCont;", StringComparison.Ordinal))
        {
            // vCont;ACTION[:thread][;ACTION...]: the first action that applies to our one thread (or to all) decides.
            foreach (string action in p[6..].Split(';'))
            {
                if (action.Length == 0) return (BadSyntax, GdbAction.None);
                string what = action.Split(':')[0];
                bool? step = what[0] switch { 'c' or 'C' => false, 's' or 'S' => true, _ => null };
                if (step is null) return (BadSyntax, GdbAction.None);
                return Resume([], step.Value);
            }
            return (BadSyntax, GdbAction.None);
        }
        if (p.StartsWith("vKill", StringComparison.Ordinal)) return ("OK", GdbAction.Kill);
        return ("", GdbAction.None); // vMustReplyEmpty, vFile, vRun, ...: not supported
    }

    private (string?, GdbAction) Resume(ReadOnlySpan<char> address, bool step)
    {
        if (!address.IsEmpty)
        {
            if (!GdbHex.TryParseNumber(address, uint.MaxValue, out ulong eip)) return (BadSyntax, GdbAction.None);
            if (!debugger.WithStoppedCpu(c => { c.State.Eip = (uint)eip; return true; }, false)) return (NotStopped, GdbAction.None);
        }
        return debugger.Resume(step) ? (null, GdbAction.Resumed) : (NotStopped, GdbAction.None);
    }

    private (string?, GdbAction) ResumeWithSignal(ReadOnlySpan<char> args, bool step)
    {
        // Csig[;addr]: the signal has no meaning for a bare-metal guest and is dropped, as QEMU does.
        int semi = args.IndexOf(';');
        ReadOnlySpan<char> sig = semi < 0 ? args : args[..semi];
        if (!GdbHex.TryParseNumber(sig, 0xFF, out _)) return (BadSyntax, GdbAction.None);
        return Resume(semi < 0 ? [] : args[(semi + 1)..], step);
    }

    private string ReadAllRegisters() => debugger.WithStoppedCpu(cpu =>
    {
        var bytes = new byte[I386Registers.TotalSize];
        for (int n = 0, o = 0; n < I386Registers.Count; o += I386Registers.Size(n), n++)
            I386Registers.Read(cpu, n, bytes.AsSpan(o, I386Registers.Size(n)));
        return GdbHex.Bytes(bytes);
    }, NotStopped);

    private string WriteAllRegisters(ReadOnlySpan<char> hex)
    {
        if (!GdbHex.TryParseBytes(hex, out byte[] bytes) || bytes.Length != I386Registers.TotalSize) return BadSyntax;
        return debugger.WithStoppedCpu(cpu =>
        {
            string? refused = null;
            foreach (int n in I386Registers.WriteOrder())
                refused ??= I386Registers.Write(cpu, n, bytes.AsSpan(I386Registers.Offset(n), I386Registers.Size(n)));
            return refused is null ? "OK" : BadValue;
        }, NotStopped);
    }

    private string ReadRegister(ReadOnlySpan<char> number)
    {
        if (!GdbHex.TryParseNumber(number, int.MaxValue, out ulong n)) return BadSyntax;
        if (n >= (ulong)I386Registers.Count) return BadValue;
        return debugger.WithStoppedCpu(cpu =>
        {
            var bytes = new byte[I386Registers.Size((int)n)];
            I386Registers.Read(cpu, (int)n, bytes);
            return GdbHex.Bytes(bytes);
        }, NotStopped);
    }

    private string WriteRegister(ReadOnlySpan<char> args)
    {
        int eq = args.IndexOf('=');
        if (eq < 0 || !GdbHex.TryParseNumber(args[..eq], int.MaxValue, out ulong n) || !GdbHex.TryParseBytes(args[(eq + 1)..], out byte[] bytes))
            return BadSyntax;
        if (n >= (ulong)I386Registers.Count || bytes.Length != I386Registers.Size((int)n)) return BadValue;
        return debugger.WithStoppedCpu(cpu => I386Registers.Write(cpu, (int)n, bytes) is null ? "OK" : BadValue, NotStopped);
    }

    private string ReadMemory(ReadOnlySpan<char> args)
    {
        if (!TryAddressLength(args, out ulong address, out ulong length)) return BadSyntax;
        if (address > uint.MaxValue) return BadAddress;
        int n = (int)Math.Min(length, MaxMemoryRead); // a longer request gets what fits: gdb asks again for the rest
        return debugger.WithStoppedCpu(cpu =>
        {
            var bytes = new byte[n];
            int got = LinearMemory.Read(cpu, (uint)address, bytes);
            return got == 0 && n > 0 ? BadAddress : GdbHex.Bytes(bytes.AsSpan(0, got));
        }, NotStopped);
    }

    private string WriteMemory(ReadOnlySpan<char> args)
    {
        int colon = args.IndexOf(':');
        if (colon < 0 || !TryAddressLength(args[..colon], out ulong address, out ulong length)) return BadSyntax;
        if (!GdbHex.TryParseBytes(args[(colon + 1)..], out byte[] bytes) || (ulong)bytes.Length != length) return BadSyntax;
        if (address > uint.MaxValue) return BadAddress;
        return debugger.WithStoppedCpu(cpu => LinearMemory.Write(cpu, (uint)address, bytes) ? "OK" : BadAddress, NotStopped);
    }

    private string Breakpoint(ReadOnlySpan<char> args, bool insert)
    {
        // TYPE,ADDR,KIND[;cond...]: conditions and commands evaluated by the target are not offered (qSupported), so none come.
        if (args.Length < 2 || args[1] != ',') return BadSyntax;
        int type = GdbHex.Digit(args[0]);
        if (!TryAddressLength(args[2..], out ulong address, out ulong length)) return BadSyntax;
        if (address > uint.MaxValue) return BadAddress;
        uint a = (uint)address;
        if (type is 0 or 1)
        {
            bool hardware = type == 1;
            bool ok = debugger.Change(d =>
            {
                if (!insert) { d.Breakpoints.Remove(a, hardware); return true; }
                return d.Breakpoints.Add(a, hardware);
            });
            return ok ? "OK" : debugger.CurrentStop is null ? NotStopped : NoRoom;
        }
        if (type is 2 or 3 or 4)
        {
            if (length == 0 || length > WatchpointSet.MaxLength || address + length > 0x1_0000_0000UL) return BadValue;
            var kind = (WatchKind)type;
            bool ok = debugger.Change(d =>
            {
                if (!insert) { d.Watchpoints.Remove(a, (uint)length, kind); return true; }
                return d.Watchpoints.Add(a, (uint)length, kind);
            });
            return ok ? "OK" : debugger.CurrentStop is null ? NotStopped : NoRoom;
        }
        return ""; // another type: not supported
    }

    /// <summary>ADDR,LENGTH in hex (the tail after the length, ";cond" or ":data", is the caller's).</summary>
    private static bool TryAddressLength(ReadOnlySpan<char> s, out ulong address, out ulong length)
    {
        address = length = 0;
        int comma = s.IndexOf(',');
        if (comma < 0) return false;
        ReadOnlySpan<char> len = s[(comma + 1)..];
        int end = len.IndexOfAny(';', ':');
        if (end >= 0) len = len[..end];
        return GdbHex.TryParseNumber(s[..comma], ulong.MaxValue, out address) && GdbHex.TryParseNumber(len, ulong.MaxValue, out length);
    }
}
