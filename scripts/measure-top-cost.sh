#!/bin/sh
# What `virt top` attached costs the guest: the same CPU-bound guest (guests/bench.c, mode=crc) run
# alternately alone and with `virt top` refreshing in a pseudo-terminal (python3's pty module, as a
# user's terminal) at INTERVAL seconds (default 0.1: ten times the default rate), RUNS times each;
# prints each run's guest speed (instructions retired per second of wall time, from --stats) and the
# medians. Needs gcc -m32 (guests/build.sh) and python3.
#   scripts/measure-top-cost.sh [ITERS (default 100000: 1.1 billion instructions)] [RUNS (default 3)] [INTERVAL (default 0.1)]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
iters=${1:-100000}
runs=${2:-3}
interval=${3:-0.1}
virt=${VIRT:-$here/monitor/Virt.Monitor/bin/Release/net10.0/virt}
[ -x "$virt" ] || { echo "measure-top-cost: build first (dotnet build -c Release): no $virt" >&2; exit 2; }
guest=$("$here/guests/build.sh" guest bench)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export VIRT_RUNTIME_DIR="$work/rt"
mkdir -m 700 "$VIRT_RUNTIME_DIR"

cat > "$work/top.py" <<'PY'
# Runs `virt top` in a pty until the VM it watches ends (virt top then exits by itself).
import os, select, struct, subprocess, sys, fcntl, termios
master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 50, 200, 0, 0))
p = subprocess.Popen(sys.argv[1:], stdin=slave, stdout=slave, stderr=slave, env=dict(os.environ, TERM='xterm-256color'))
os.close(slave)
frames = 0
while True:
    if select.select([master], [], [], 0.5)[0]:
        try: data = os.read(master, 65536)
        except OSError: break
        if not data: break
        frames += data.count(b'exits by reason')
    elif p.poll() is not None: break
p.wait()
print(frames)
PY

speed() { # $1: stats file -> instructions per second of wall time, in millions
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('%.1f' % (d['instructions'] / d['wallSeconds'] / 1e6))" "$1"
}

alone=""; watched=""
for i in $(seq "$runs"); do
    "$virt" run -q --kernel "$guest" --append "mode=crc iters=$iters" --stats "$work/a.json" >/dev/null || true  # the guest ends through the exit port: a status of its own
    a=$(speed "$work/a.json")
    "$virt" run -q --kernel "$guest" --append "mode=crc iters=$iters" --stats "$work/b.json" >/dev/null &
    pid=$!
    while [ -z "$(ls "$VIRT_RUNTIME_DIR" 2>/dev/null)" ] && kill -0 $pid 2>/dev/null; do sleep 0.01; done
    frames=$(python3 "$work/top.py" "$virt" top -d "$interval" || echo 0)
    wait $pid || true
    b=$(speed "$work/b.json")
    echo "run $i: alone $a M instructions/s; with virt top -d $interval ($frames frames) $b M instructions/s"
    alone="$alone $a"; watched="$watched $b"
done
python3 - "$alone" "$watched" <<'PY'
import statistics, sys
a = statistics.median(float(x) for x in sys.argv[1].split())
b = statistics.median(float(x) for x in sys.argv[2].split())
print("median: alone %.1f, with virt top %.1f M instructions/s: %+.1f %%" % (a, b, (b - a) / a * 100))
PY
echo "load while measuring: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
