using Virt.Devices.State;

namespace Virt.Devices.Platform;

/// <summary>
/// One 8254 counter. Nothing ticks: the counter is described by when it was loaded (in PIT input
/// clocks) and with what, and its count and OUT are computed for any given clock, so reads are
/// exact and idle channels cost nothing. All methods take "now" in PIT clocks from the owner.
/// </summary>
public sealed class PitChannel
{
    /// <summary>Access modes (control word bits 5-4) and the read/write byte sequencer states.</summary>
    internal const int AccessLsb = 1, AccessMsb = 2, AccessWord = 3, AccessWordMsbNext = 4;

    private enum Phase : byte
    {
        /// <summary>Control word written, no count yet: not counting.</summary>
        Idle,
        /// <summary>Counting since <see cref="_loadTick"/>.</summary>
        Counting,
        /// <summary>Modes 1 and 5: count written, waiting for a gate rising edge.</summary>
        WaitingForTrigger,
        /// <summary>Gate low: modes 0/4 hold their count; modes 2/3 hold OUT high.</summary>
        Paused,
    }

    private Phase _phase = Phase.Idle;
    private int _modeBits;           // Mode as programmed (0-7), reported in status.
    private int _access = AccessWord;
    private int _countRegister;      // CR: the value last written (raw 16 bits).
    private int _active = 65536;     // N of the current cycle, already decoded (1-65536, or 1-10000 in BCD).
    private long _loadTick;          // When the current cycle started.
    private long _pausedElapsed;     // Modes 0/4 with gate low: clocks counted before the pause.
    private int _heldCount;          // Count shown when not counting.
    private int _writeState = AccessWord;
    private int _readState = AccessWord;
    private byte _pendingLsb;
    private int _latchState;         // 0, or the byte sequence state of a latched count.
    private ushort _latchedCount;
    private bool _statusLatched;
    private byte _latchedStatus;
    private bool _nullCount = true;

    internal PitChannel(bool gate) => Gate = gate;

    /// <summary>Effective mode 0-5 (6 and 7 are aliases of 2 and 3).</summary>
    public int Mode => _modeBits >= 6 ? _modeBits - 4 : _modeBits;

    public bool Bcd { get; private set; }

    public bool Gate { get; private set; }

    private int Modulus => Bcd ? 10000 : 65536;

    /// <summary>Control word for this channel (not a latch or read-back command).</summary>
    internal void Program(int access, int mode, bool bcd, long now)
    {
        _heldCount = CountAt(now);
        _access = access;
        _modeBits = mode;
        Bcd = bcd;
        _readState = _writeState = access;
        _latchState = 0;
        _statusLatched = false;
        _nullCount = true;
        // Mode 0 drives OUT low as soon as it is programmed; every other mode drives it high.
        _phase = Phase.Idle;
    }

    /// <summary>A byte written to the counter's port.</summary>
    internal void WriteCount(byte value, long now)
    {
        switch (_writeState)
        {
            case AccessLsb:
                LoadCount(value, now);
                break;
            case AccessMsb:
                LoadCount(value << 8, now);
                break;
            case AccessWord:
                _pendingLsb = value;
                _writeState = AccessWordMsbNext;
                // Mode 0: writing the first byte stops the count and drives OUT low.
                if (Mode == 0 && _phase != Phase.Idle)
                {
                    _heldCount = CountAt(now);
                    _phase = Phase.Idle;
                }
                break;
            default:
                _writeState = AccessWord;
                LoadCount(_pendingLsb | (value << 8), now);
                break;
        }
    }

    private void LoadCount(int raw, long now)
    {
        _countRegister = raw;
        _nullCount = true;
        switch (Mode)
        {
            case 1:
            case 5:
                // Hardware-triggered modes load CR into the counter on the next gate rising edge.
                if (_phase == Phase.Idle)
                    _phase = Phase.WaitingForTrigger;
                break;
            default:
                // Modes 0 and 4 start (re-start) counting; modes 2 and 3 are simplified to restart
                // at once rather than at the end of the current period. Gate low holds the count.
                Start(now);
                if (!Gate)
                {
                    _phase = Phase.Paused;
                    _pausedElapsed = 0;
                    _heldCount = _active;
                }
                break;
        }
    }

    private void Start(long now)
    {
        int raw = Bcd ? Common.Bcd.ToBinary16(_countRegister) : _countRegister;
        _active = raw == 0 ? Modulus : raw;
        _loadTick = now;
        _nullCount = false;
        _phase = Phase.Counting;
    }

    internal void SetGate(bool high, long now)
    {
        if (high == Gate)
            return;
        Gate = high;
        int mode = Mode;
        if (high)
        {
            if (mode is 1 or 5)
            {
                // Trigger (or retrigger): reload and start the one-shot.
                if (_phase != Phase.Idle)
                    Start(now);
            }
            else if (_phase == Phase.Paused)
            {
                if (mode is 2 or 3)
                {
                    Start(now); // The rate generators reload on the gate's rising edge.
                }
                else
                {
                    _loadTick = now - _pausedElapsed;
                    _phase = Phase.Counting;
                }
            }
        }
        else if (_phase == Phase.Counting && mode is not (1 or 5))
        {
            _heldCount = CountAt(now);
            _pausedElapsed = now - _loadTick;
            _phase = Phase.Paused;
        }
    }

    /// <summary>The OUT pin at PIT clock <paramref name="now"/>.</summary>
    public bool Output(long now) => _phase switch
    {
        Phase.Idle => Mode != 0,
        Phase.WaitingForTrigger => true,
        Phase.Paused => Mode is 0 or 4 ? OutputAfter(_pausedElapsed) : true,
        _ => OutputAfter(now - _loadTick),
    };

    /// <summary>OUT after d clocks of the current cycle.</summary>
    private bool OutputAfter(long d)
    {
        long n = _active;
        return Mode switch
        {
            0 or 1 => d >= n,                 // Low while counting, high from terminal count on.
            2 => d % n != n - 1,              // High, low for the one clock before each reload.
            3 => d % n < (n + 1) / 2,         // Square wave: high for ceil(N/2), low for floor(N/2).
            _ => d != n,                      // Modes 4/5: a one-clock low strobe at terminal count.
        };
    }

    /// <summary>The counting element's value at clock <paramref name="now"/> (decoded, 0-65535).</summary>
    public int CountAt(long now) => _phase switch
    {
        Phase.Counting => CountAfter(now - _loadTick),
        Phase.Paused when Mode is 0 or 4 => CountAfter(_pausedElapsed),
        _ => _heldCount,
    };

    private int CountAfter(long d)
    {
        long n = _active;
        switch (Mode)
        {
            case 2:
                return (int)((n - d % n) % Modulus);
            case 3:
                {
                    // Decrements by two; for odd N the high half is one clock longer.
                    long p = d % n, high = (n + 1) / 2;
                    long value = p < high ? n - 2 * p : (n & ~1L) - 2 * (p - high);
                    return (int)(value % Modulus);
                }
            default:
                // Modes 0, 1, 4, 5 keep counting down past zero and wrap.
                return (int)(((n - d) % Modulus + Modulus) % Modulus);
        }
    }

    /// <summary>Rising edges of OUT in (from, to], clocks; the caller syncs at every state change.</summary>
    internal bool RisingEdgeBetween(long from, long to)
    {
        if (_phase != Phase.Counting || to <= from)
            return false;
        long d0 = from - _loadTick, d1 = to - _loadTick, n = _active;
        return Mode switch
        {
            0 or 1 => d0 < n && n <= d1,
            2 or 3 => Math.Max(d1, 0) / n > Math.Max(d0, 0) / n,
            _ => d0 < n + 1 && n + 1 <= d1,
        };
    }

    /// <summary>PIT clock of the next rising edge of OUT after <paramref name="now"/>, or -1 if none is coming.</summary>
    internal long NextRisingEdge(long now)
    {
        if (_phase != Phase.Counting)
            return -1;
        long d = now - _loadTick, n = _active;
        return Mode switch
        {
            0 or 1 => d < n ? _loadTick + n : -1,
            2 or 3 => _loadTick + (Math.Max(d, 0) / n + 1) * n,
            _ => d < n + 1 ? _loadTick + n + 1 : -1,
        };
    }

    /// <summary>Counter latch command: freezes the count for reading until it has been read out.</summary>
    internal void LatchCount(long now)
    {
        if (_latchState != 0)
            return; // Further latches are ignored until the latched value is read.
        _latchedCount = EncodeCount(CountAt(now));
        _latchState = _access;
    }

    /// <summary>Read-back status latch: OUT, null count, access, mode, BCD.</summary>
    internal void LatchStatus(long now)
    {
        if (_statusLatched)
            return;
        _latchedStatus = (byte)((Output(now) ? 0x80 : 0) | (_nullCount ? 0x40 : 0) | (_access << 4) | (_modeBits << 1) | (Bcd ? 1 : 0));
        _statusLatched = true;
    }

    internal byte ReadCount(long now)
    {
        if (_statusLatched)
        {
            _statusLatched = false;
            return _latchedStatus;
        }
        if (_latchState != 0)
        {
            switch (_latchState)
            {
                case AccessLsb:
                    _latchState = 0;
                    return (byte)_latchedCount;
                case AccessMsb:
                    _latchState = 0;
                    return (byte)(_latchedCount >> 8);
                default:
                    _latchState = AccessMsb; // Word: LSB now, MSB on the next read.
                    return (byte)_latchedCount;
            }
        }
        // Unlatched reads see the live counter (each byte sampled separately, as on real parts).
        ushort count = EncodeCount(CountAt(now));
        switch (_readState)
        {
            case AccessLsb:
                return (byte)count;
            case AccessMsb:
                return (byte)(count >> 8);
            case AccessWord:
                _readState = AccessWordMsbNext;
                return (byte)count;
            default:
                _readState = AccessWord;
                return (byte)(count >> 8);
        }
    }

    private ushort EncodeCount(int count) => (ushort)(Bcd ? Common.Bcd.FromBinary16(count % 10000) : count);

    internal void Save(StateWriter w, long now) => w
        .Byte((byte)_phase).Byte((byte)_modeBits).Byte((byte)_access).Bool(Bcd).Bool(Gate)
        .Int32(_countRegister).Int32(_active)
        .Int64(_phase == Phase.Counting ? now - _loadTick : 0)
        .Int64(_pausedElapsed).Int32(_heldCount)
        .Byte((byte)_writeState).Byte((byte)_readState).Byte(_pendingLsb)
        .Byte((byte)_latchState).UInt16(_latchedCount).Bool(_statusLatched).Byte(_latchedStatus).Bool(_nullCount);

    internal void Restore(ref StateReader r, long now)
    {
        _phase = (Phase)r.Check(r.Byte(), 0, 3, "phase");
        _modeBits = r.Check(r.Byte(), 0, 7, "mode");
        _access = r.Check(r.Byte(), 1, 3, "access");
        Bcd = r.Bool();
        Gate = r.Bool();
        _countRegister = r.Check(r.Int32(), 0, 0xFFFF, "count");
        _active = r.Check(r.Int32(), 1, 65536, "active");
        long elapsed = r.Int64();
        _loadTick = now - Math.Max(0, elapsed);
        _pausedElapsed = Math.Max(0, r.Int64());
        _heldCount = r.Check(r.Int32(), 0, 0xFFFF, "held");
        _writeState = r.Check(r.Byte(), 1, 4, "writeState");
        _readState = r.Check(r.Byte(), 1, 4, "readState");
        _pendingLsb = r.Byte();
        _latchState = r.Check(r.Byte(), 0, 3, "latchState");
        _latchedCount = r.UInt16();
        _statusLatched = r.Bool();
        _latchedStatus = r.Byte();
        _nullCount = r.Bool();
    }
}
