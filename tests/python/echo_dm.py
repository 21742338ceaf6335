#!/usr/bin/env python3
"""A device model written without the C# SDK, from docs/control-protocol.md and docs/abi.md only.

Python 3 standard library: socket for the control protocol, mmap for the comm page, ctypes for the
futex system call. It claims one port range (default 0x510, one port, device "py-echo"): a write
stores the value, a read returns the last value written plus one. Started by `virt run --dm PATH`
or `virt attach VM --dm PATH`, which pass VIRT_DM_SOCKET and VIRT_DM_SECRET in the environment.

usage: echo_dm.py [--port 0xNNN]
"""
import ctypes
import mmap
import os
import socket
import struct
import sys
import threading

# Control protocol (docs/control-protocol.md): 8-byte header, little-endian payload.
HELLO, WELCOME, REFUSED, CLAIM, CLAIM_RESULT, READY, SHUTDOWN = 1, 2, 3, 4, 5, 6, 7
SAVE_STATE, DEVICE_STATE, STATE_SAVED = 13, 14, 15
VERSION = (1 << 16) | 1

# Comm page offsets (docs/abi.md).
TO_DEVICE_SEQ, TO_DEVICE_SLEEPING = 0x040, 0x044
TO_MONITOR_SEQ = 0x080
EXIT_REASON, EXIT_ADDRESS, EXIT_SIZE, EXIT_DIRECTION, EXIT_FLAGS = 0x100, 0x108, 0x110, 0x111, 0x112
EXIT_DATA, EXIT_STATUS = 0x118, 0x120
DEVICE_EXITS_SERVED = 0x180
MAGIC, LAYOUT_VERSION = 0x4D4D4F43, 2
STATUS_OK, STATUS_UNHANDLED = 1, 2

SYS_FUTEX = 202  # x86-64
FUTEX_WAIT, FUTEX_WAKE = 0, 1  # not FUTEX_PRIVATE: the word is shared between two processes
libc = ctypes.CDLL(None, use_errno=True)


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def frame(msg_type, payload=b""):
    return struct.pack("<IHH", len(payload), msg_type, 0) + payload


def pstr(text):
    b = text.encode()
    return struct.pack("<H", len(b)) + b


class Reader:
    def __init__(self, payload):
        self.p, self.o = payload, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.p, self.o)
        self.o += struct.calcsize(fmt)
        return v[0]

    def str(self):
        n = self.take("<H")
        s = self.p[self.o:self.o + n].decode()
        self.o += n
        return s

    def remaining(self):
        return len(self.p) - self.o


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def receive(sock):
    header = recv_exact(sock, 8)
    if header is None:
        return None, None
    length, msg_type, reserved = struct.unpack("<IHH", header)
    return msg_type, recv_exact(sock, length) if length else b""


class CommPage:
    def __init__(self, path):
        fd = os.open(path, os.O_RDWR)
        self.mm = mmap.mmap(fd, 8192, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        os.close(fd)
        if self.u32(0) != MAGIC or struct.unpack_from("<H", self.mm, 4)[0] != LAYOUT_VERSION:
            raise SystemExit("echo_dm: comm page has a bad magic or layout version")

    def u32(self, off):
        return struct.unpack_from("<I", self.mm, off)[0]

    def put_u32(self, off, v):
        struct.pack_into("<I", self.mm, off, v & 0xFFFFFFFF)

    def u64(self, off):
        return struct.unpack_from("<Q", self.mm, off)[0]

    def put_u64(self, off, v):
        struct.pack_into("<Q", self.mm, off, v)

    def address(self, off):
        return ctypes.addressof(ctypes.c_uint32.from_buffer(self.mm, off))

    def futex_wait(self, off, expected, timeout_s):
        ts = Timespec(int(timeout_s), int((timeout_s % 1) * 1e9))
        libc.syscall(SYS_FUTEX, ctypes.c_void_p(self.address(off)), FUTEX_WAIT, ctypes.c_uint32(expected), ctypes.byref(ts), None, 0)

    def futex_wake(self, off):
        libc.syscall(SYS_FUTEX, ctypes.c_void_p(self.address(off)), FUTEX_WAKE, 0x7FFFFFFF, None, None, 0)


def serve(page, port, stop):
    value = 0
    last = page.u32(TO_MONITOR_SEQ)  # the last completed exit: one published before we started is still seen
    while not stop.is_set():
        seq = page.u32(TO_DEVICE_SEQ)
        if seq == last:
            page.put_u32(TO_DEVICE_SLEEPING, 1)
            # The futex call compares the word under the kernel's lock, after our Sleeping store is visible.
            page.futex_wait(TO_DEVICE_SEQ, last, 0.1)
            page.put_u32(TO_DEVICE_SLEEPING, 0)
            continue
        last = seq
        reason, address = page.u32(EXIT_REASON), page.u64(EXIT_ADDRESS)
        size, direction, flags = page.mm[EXIT_SIZE], page.mm[EXIT_DIRECTION], page.mm[EXIT_FLAGS]
        status = STATUS_UNHANDLED
        if reason == 1 and address == port and flags == 0 and size in (1, 2, 4):
            mask = (1 << (8 * size)) - 1
            if direction == 1:
                page.put_u64(EXIT_DATA, (value + 1) & mask)
            else:
                value = page.u64(EXIT_DATA) & mask
            status = STATUS_OK
        page.put_u32(EXIT_STATUS, status)
        page.put_u64(DEVICE_EXITS_SERVED, page.u64(DEVICE_EXITS_SERVED) + 1)
        page.put_u32(TO_MONITOR_SEQ, seq)
        # Always wake: the system call is the full fence the protocol asks for before reading ToMonitor.Sleeping.
        page.futex_wake(TO_MONITOR_SEQ)


def main():
    port = 0x510
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "--port":
        port = int(args[1], 0)
    elif args:
        raise SystemExit(__doc__)
    sock_path, secret_hex = os.environ.get("VIRT_DM_SOCKET"), os.environ.get("VIRT_DM_SECRET")
    if not sock_path or not secret_hex:
        raise SystemExit("echo_dm: VIRT_DM_SOCKET and VIRT_DM_SECRET must be set")
    secret = bytes.fromhex(secret_hex)

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(sock_path)
    sock.sendall(frame(HELLO, struct.pack("<IQ", VERSION, 0) + secret + pstr("py-echo") + struct.pack("<i", os.getpid())))
    msg_type, payload = receive(sock)
    if msg_type == REFUSED:
        r = Reader(payload)
        code = r.take("<I")
        raise SystemExit(f"echo_dm: refused ({code}): {r.str()}")
    if msg_type != WELCOME:
        raise SystemExit(f"echo_dm: expected Welcome, got {msg_type}")
    r = Reader(payload)
    r.take("<I"), r.take("<Q"), r.take("<I"), r.take("<Q")  # version, features, vcpus, RAM size
    r.str()  # RAM file: this model does no DMA
    comm_file = r.str()
    blobs = 0
    r.take("<I"), r.take("<i"), r.take("<B"), r.take("<I")  # pages per VCPU, monitor pid, wake mode, spin us
    if r.remaining() >= 4:
        blobs = r.take("<I")
    for _ in range(blobs):  # state kept from a model this one replaces: we have no stateful device
        receive(sock)
    if "/" in comm_file or comm_file in ("", ".", ".."):
        raise SystemExit("echo_dm: bad comm file name")
    page = CommPage(os.path.join(os.path.dirname(sock_path), comm_file))

    sock.sendall(frame(CLAIM, struct.pack("<IBQQI", 1, 0, port, 1, 0) + pstr("py-echo")))
    msg_type, payload = receive(sock)
    r = Reader(payload)
    if msg_type != CLAIM_RESULT or (r.take("<I"), r.take("<B"))[1] != 1:
        raise SystemExit(f"echo_dm: claim of port 0x{port:X} refused: {r.str() if msg_type == CLAIM_RESULT else msg_type}")

    stop = threading.Event()
    server = threading.Thread(target=serve, args=(page, port, stop), daemon=True)
    server.start()
    sock.sendall(frame(READY))
    while True:
        msg_type, payload = receive(sock)
        if msg_type is None or msg_type == SHUTDOWN:
            break
        if msg_type == SAVE_STATE:
            sock.sendall(frame(STATE_SAVED, struct.pack("<I", 0)))
    stop.set()
    server.join(1)
    return 0 if msg_type == SHUTDOWN else 1


if __name__ == "__main__":
    sys.exit(main())
