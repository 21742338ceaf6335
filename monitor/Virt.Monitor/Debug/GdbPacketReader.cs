using System.Text;

namespace Virt.Monitor.Debug;

/// <summary>
/// Frames the byte stream from the debugger: $data#xx packets (xx the modulo-256 sum of data in
/// hex), the '+'/'-' acknowledgements and the 0x03 interrupt byte. Fed one byte at a time, it never
/// holds more than <see cref="MaxPacket"/> bytes whatever the peer sends, and '}' escapes are
/// undone (binary data in X packets and the like).
/// </summary>
public sealed class GdbPacketReader
{
    /// <summary>The largest packet taken; qSupported announces it (PacketSize), so gdb never sends more.</summary>
    public const int MaxPacket = 0x4000;

    private enum State { Idle, Data, Escape, Check1, Check2 }

    private readonly StringBuilder _data = new();
    private State _state;
    private byte _sum;
    private int _check;
    private bool _overflow;

    /// <summary>The last packet completed with <see cref="GdbInput.Packet"/>.</summary>
    public string Packet { get; private set; } = "";

    public GdbInput Feed(byte b)
    {
        switch (_state)
        {
            case State.Idle:
                switch (b)
                {
                    case (byte)'$': Begin(); return GdbInput.None;
                    case 0x03: return GdbInput.Interrupt;
                    case (byte)'+': return GdbInput.Ack;
                    case (byte)'-': return GdbInput.Nak;
                    default: return GdbInput.None; // noise between packets is ignored, as gdbserver does
                }
            case State.Data:
                _sum += b;
                if (b == (byte)'#') { _sum -= b; _state = State.Check1; return GdbInput.None; }
                if (b == (byte)'$') { Begin(); return GdbInput.None; } // a new packet restarts: the old one was cut short
                if (b == (byte)'}') { _state = State.Escape; return GdbInput.None; }
                Append((char)b);
                return GdbInput.None;
            case State.Escape:
                _sum += b;
                Append((char)(b ^ 0x20));
                _state = State.Data;
                return GdbInput.None;
            case State.Check1:
                _check = GdbHex.Digit((char)b) << 4;
                _state = State.Check2;
                return GdbInput.None;
            default:
                _state = State.Idle;
                int lo = GdbHex.Digit((char)b);
                if (_overflow) return GdbInput.TooLong;
                if (_check < 0 || lo < 0 || (_check | lo) != _sum) return GdbInput.BadChecksum;
                Packet = _data.ToString();
                return GdbInput.Packet;
        }
    }

    private void Begin()
    {
        _data.Clear();
        _sum = 0;
        _overflow = false;
        _state = State.Data;
    }

    private void Append(char c)
    {
        if (_data.Length < MaxPacket) _data.Append(c);
        else _overflow = true;
    }

    /// <summary>A reply framed: $data#xx, with '$', '#', '}' and '*' escaped so no reply is misread.</summary>
    public static byte[] Frame(string data)
    {
        var sb = new StringBuilder(data.Length + 4);
        sb.Append('$');
        byte sum = 0;
        foreach (char ch in data)
        {
            if (ch is '$' or '#' or '}' or '*')
            {
                sb.Append('}');
                sum += (byte)'}';
                char e = (char)(ch ^ 0x20);
                sb.Append(e);
                sum += (byte)e;
            }
            else
            {
                sb.Append(ch);
                sum += (byte)ch;
            }
        }
        sb.Append('#').Append(sum.ToString("x2"));
        return Encoding.Latin1.GetBytes(sb.ToString());
    }
}
