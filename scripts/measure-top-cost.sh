#!/bin/sh
# What `virt top` attached costs the guest. One long run of the CPU-bound benchmark guest
# (guests/bench.c, mode=crc) with the --stats timeline; `virt top` is attached in a pseudo-terminal
# (python3's pty module, as a user's terminal) from second WINDOW to second 2*WINDOW, refreshing every
# INTERVAL seconds (default 0.1: ten times the default rate), then quits. From the timeline: the
# guest's instructions per second before, while and after virt top watched, in the same run (so the
# machine's drift between runs does not enter), and the CPU time virt top itself took.
# Needs gcc -m32 (guests/build.sh) and python3.
#   scripts/measure-top-cost.sh [ITERS (default 1500000: ~17 billion instructions)] [WINDOW (default 4)] [INTERVAL (default 0.1)]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
iters=${1:-1500000}
window=${2:-4}
interval=${3:-0.1}
virt=${VIRT:-$here/monitor/Virt.Monitor/bin/Release/net10.0/virt}
[ -x "$virt" ] || { echo "measure-top-cost: build first (dotnet build -c Release): no $virt" >&2; exit 2; }
guest=$("$here/guests/build.sh" guest bench)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export VIRT_RUNTIME_DIR="$work/rt"
mkdir -m 700 "$VIRT_RUNTIME_DIR"

python3 - "$virt" "$guest" "$iters" "$window" "$interval" "$work" <<'PY'
import fcntl, json, os, select, struct, subprocess, sys, termios, time
virt, guest, iters, window, interval, work = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5], sys.argv[6]
stats = os.path.join(work, "stats.json")
run = subprocess.Popen([virt, "run", "-q", "--kernel", guest, "--append", "mode=crc iters=" + iters, "--stats", stats],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
rt = os.environ["VIRT_RUNTIME_DIR"]
while not os.listdir(rt) and run.poll() is None: time.sleep(0.01)
started = time.time()
time.sleep(window)
master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 50, 200, 0, 0))
top = subprocess.Popen([virt, "top", "-d", interval], stdin=slave, stdout=slave, stderr=slave, env=dict(os.environ, TERM='xterm-256color'))
os.close(slave)
attached = time.time() - started
frames = 0
cpu = 0.0
tick = os.sysconf("SC_CLK_TCK")
while time.time() - started < 2 * window and top.poll() is None:
    if select.select([master], [], [], 0.1)[0]:
        try: frames += os.read(master, 65536).count(b'exits by reason')
        except OSError: break
    try:
        f = open("/proc/%d/stat" % top.pid).read().rsplit(")", 1)[1].split()
        cpu = (int(f[11]) + int(f[12])) / tick
    except (OSError, IndexError): pass
detached = time.time() - started
os.write(master, b'q')
top.wait()
run.wait()
d = json.load(open(stats))
t = d["timeline"]
def mips(lo, hi):
    n = s = 0.0
    prev = 0.0
    for end, count in zip(t["seconds"], t["instructions"]):
        if lo <= prev and end <= hi: n += count; s += end - prev
        prev = end
    return n / s / 1e6 if s > 0 else float("nan")
total = t["seconds"][-1]
before, during, after = mips(0.5, attached), mips(attached, detached), mips(detached + 0.5, total)
print("guest: %s instructions in %.1f s (mode=crc iters=%s)" % (format(d["instructions"], ","), total, iters))
print("instructions/s: before virt top %.1f M; while virt top -d %s watched (%d frames, %.1f s from %.1f s) %.1f M; after %.1f M"
      % (before, interval, frames, detached - attached, attached, during, after))
base = (before + after) / 2 if after == after else before
print("while watched: %+.1f %% against the mean of before and after; virt top's own CPU time %.2f s in %.1f s"
      % ((during - base) / base * 100, cpu, detached - attached))
with open("/proc/loadavg") as f: print("load average while measuring: %s on %d CPUs" % (" ".join(f.read().split()[:3]), os.cpu_count()))
PY
