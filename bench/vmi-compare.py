#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""vmi-compare: every way to read a QEMU guest's memory, side by side.

One run starts the patched QEMU (TCG, 1 GiB of RAM in a shared memfd, a
tiny BIOS that increments a counter at 0x500 forever), prepares guest
memory through pmemaccess writes, and measures these paths on the same
workloads (and xp, pmemsave and the gdbstub of Debian's own QEMU, stock,
started with the same arguments, its RAM written through its memfd: what
users have today):

  xp                   QMP human-monitor-command "xp /Nbx ADDR"
  pmemsave             QMP pmemsave to a file in /dev/shm, then read it
  gdbstub              GDB remote protocol, "m addr,len" packets
  process_vm_readv     memflow's method, on QEMU's pid
  pmemaccess v1        LibVMI's protocol, raw
  pmemaccess v2        Client.read
  pmemaccess v2 READV  Client.readv (one request for a batch)
  pmemaccess v2 virt.  Client.read(root=): the server walks page tables
  pmemmap              Client.map(): guest RAM mapped here

Workloads: 8 B, 4 KiB and 16 MiB reads, 256 scattered 8 B reads, one
virtual-to-physical resolution (4-level walk), a 1000-node linked-list
walk.  Baselines: a bare UNIX-socket round trip and 16 MiB bulk transfer
(to a forked echo process), a local 16 MiB copy.  Then the guest runs
and the run measures how much introspection slows it, how much slower
QMP answers, and the v2 8 B read and READV under a busy guest.

Every read is checked against the data written: exit status 1 means
wrong data (never "too slow"), 2 an error.  Writes OUT/compare.md and
OUT/compare.png (the latter needs python3-matplotlib).

    vmi-compare.py [--qemu PATH] [--stock PATH] [--out DIR] [--quick]
"""

import argparse
import ctypes
import json
import math
import mmap
import os
import platform
import random
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "..", "clients", "python"))
import pmemaccess                                   # noqa: E402
import qemubuild                                    # noqa: E402

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30

# Guest-physical layout
COUNTER = 0x500                 # u32, incremented by the guest
PML4, PDPT, PD, PT = 0x10000, 0x11000, 0x12000, 0x13000
DATA_PAGE = 0x20000             # VADDR's page
VADDR = 0x400000                # PML4[0] PDPT[0] PD[2] PT[0]
PAT = 16 * MiB                  # pattern, PAT_LEN bytes; also mapped
PAT_LEN = 16 * MiB              #   at VA == GPA by 2 MiB pages PD[8..15]
LIST_LO, LIST_HI, NODES = 64 * MiB, 512 * MiB, 1000
A8 = PAT + 0x123458             # the 8 B read
A4K = PAT + 0x345000            # the 4 KiB read
SCATTER = 256
PTE_ADDR = 0x000ffffffffff000

# The BIOS: 64 KiB, code at 0 (F000:0000), reset vector at 0xFFF0.
RESET_VECTOR = bytes.fromhex("EA000000F0")          # jmp far F000:0000
GUEST_CODE = bytes.fromhex(
    "31C0"              # 0:  xor ax,ax
    "8ED8"              # 2:  mov ds,ax
    "31FF"              # 4:  xor di,di
    "668306000501"      # 6:  add dword [0x500],1
    "89850010"          # 12: mov [di+0x1000],ax
    "4747"              # 16: inc di; inc di
    "81E7FE7F"          # 18: and di,0x7ffe  (see below)
    "EBEE")             # 22: jmp 6
# Without the "and", [di+0x1000] wraps at 64 KiB in real mode: the guest
# would write all of 0..0xffff, zeroing the counter at 0x500 every 32768
# increments, so its progress could not be read.  With it, the guest
# writes 0x1000..0x8fff and leaves the counter and the page tables alone.

WORKLOADS = [
    ("r8", "read 8 B"),
    ("r4k", "read 4 KiB"),
    ("r16m", "read 16 MiB"),
    ("scatter", "256 × 8 B scattered"),
    ("walk", "resolve VA (4-level)"),
    ("list", "list walk, 1000 nodes"),
]
WL_BYTES = {"r4k": 4 * KiB, "r16m": 16 * MiB}


class Policy:
    def __init__(self, quick):
        self.quick = quick
        if quick:
            self.min_reps, self.max_reps, self.cap = 1, 3, 0.02
            self.est_limit, self.warmup = 0.5, False
            self.windows, self.idle_window, self.load_window = 2, 0.1, 0.15
            self.qs_calls = 20
        else:
            self.min_reps, self.max_reps, self.cap = 3, 200, 2.0
            self.est_limit, self.warmup = 30.0, True
            # guest progress: idle and loaded windows, alternating
            self.windows, self.idle_window, self.load_window = 4, 0.3, 0.5
            self.qs_calls = 200


class Mismatch(Exception):
    pass


def now():
    return time.perf_counter()


def percentile(samples, q):
    s = sorted(samples)
    return s[max(0, math.ceil(q * len(s)) - 1)]


# --------------------------------------------------------------------------
# QMP

class QmpError(Exception):
    pass


class Qmp:
    def __init__(self, path, proc, timeout=30.0):
        deadline = now() + timeout
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if proc.poll() is not None:
                    raise RuntimeError("QEMU exited with status %d"
                                       % proc.returncode)
                if now() > deadline:
                    raise RuntimeError("no QMP socket at %s" % path)
                time.sleep(0.02)
        self.f = self.sock.makefile("rb")
        if "QMP" not in json.loads(self.f.readline()):
            raise QmpError("no QMP greeting")
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            line = self.f.readline()
            if not line:
                raise QmpError("QMP connection closed")
            r = json.loads(line)
            if "event" in r:
                continue
            if "error" in r:
                raise QmpError("%s: %s" % (name, r["error"].get("desc")))
            return r["return"]

    def hmp(self, line):
        return self.cmd("human-monitor-command", **{"command-line": line})

    def close(self):
        self.sock.close()


# --------------------------------------------------------------------------
# The paths.  Each has read(addr, n) -> bytes-like; scatter(addrs),
# resolve(va) and walk_list(head) have generic versions built on read().

def walk_tables(read, va, root):
    """Client-side x86-64 4-level walk: 4 dependent reads of 8 bytes,
    then the final 8-byte read; returns those 8 bytes."""
    table = root & PTE_ADDR
    for shift in (39, 30, 21, 12):
        e = int.from_bytes(read(table + ((va >> shift) & 511) * 8, 8),
                           "little")
        if not e & 1:
            raise Mismatch("VA %#x not mapped (level shift %d)"
                           % (va, shift))
        if shift in (30, 21) and e & 0x80:
            size = 1 << shift
            return read((e & PTE_ADDR & ~(size - 1)) | (va & (size - 1)), 8)
        table = e & PTE_ADDR
    return read(table | (va & 0xfff), 8)


class Path:
    name = "?"
    has_list = True

    def read(self, addr, n):
        raise NotImplementedError

    def scatter(self, addrs):
        return [self.read(a, 8) for a in addrs]

    def resolve(self, va):
        return walk_tables(self.read, va, PML4)

    def walk_list(self, head):
        values = []
        addr = head
        while addr:
            node = self.read(addr, 16)
            addr, value = struct.unpack_from("<QQ", node)
            values.append(value)
            if len(values) > NODES:
                raise Mismatch("the list does not end")
        return values

    def close(self):
        pass


def peer_name(path, peer):
    """@path's class name with @peer ("stock QEMU 7.2.22") appended."""
    return "%s, %s" % (type(path).name, peer) if peer else type(path).name


class XpPath(Path):
    name = "xp (HMP over QMP)"
    CHUNK = 4096

    def __init__(self, qmp, peer=None):
        self.qmp = qmp
        self.name = peer_name(self, peer)

    def read(self, addr, n):
        parts = []
        for off in range(0, n, self.CHUNK):
            m = min(self.CHUNK, n - off)
            out = self.qmp.hmp("xp /%dbx %#x" % (m, addr + off))
            if "Cannot access" in out:
                raise Mismatch("xp %#x: %s" % (addr + off, out.strip()))
            hexes = "".join(line.partition(":")[2]
                            for line in out.splitlines())
            data = bytes.fromhex(hexes.replace("0x", "").replace(" ", ""))
            if len(data) != m:
                raise Mismatch("xp %#x: %d bytes for %d" % (addr + off,
                                                            len(data), m))
            parts.append(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)


class PmemsavePath(Path):
    name = "pmemsave (QMP + file)"

    def __init__(self, qmp, peer=None):
        self.qmp = qmp
        self.name = peer_name(self, peer)
        fd, self.file = tempfile.mkstemp(prefix="vmi-compare-",
                                         dir="/dev/shm")
        os.close(fd)

    def read(self, addr, n):
        self.qmp.cmd("pmemsave", val=addr, size=n, filename=self.file)
        with open(self.file, "rb") as f:
            return f.read()

    def close(self):
        try:
            os.unlink(self.file)
        except OSError:
            pass


class GdbPath(Path):
    name = "gdbstub"

    def __init__(self, path, peer=None):
        self.name = peer_name(self, peer)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = bytearray()
        reply = self.packet(b"qSupported:multiprocess+;swbreak+;hwbreak+")
        size = 4096
        for feature in reply.split(b";"):
            if feature.startswith(b"PacketSize="):
                size = int(feature[11:], 16)
        # QEMU refuses "m" longer than half its packet buffer (hex doubles)
        self.chunk = min(2048, size // 2)

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise RuntimeError("gdbstub closed the connection")
        self.buf += data

    def packet(self, payload):
        frame = b"$%s#%02x" % (payload, sum(payload) & 0xff)
        while True:
            self.sock.sendall(frame)
            while not self.buf:
                self._fill()
            ack = self.buf[0]
            del self.buf[0]
            if ack == ord("+"):
                break
            if ack != ord("-"):
                raise RuntimeError("gdbstub: %r instead of an ack"
                                   % chr(ack))
        while True:
            start = self.buf.find(b"$")
            end = self.buf.find(b"#", start + 1) if start >= 0 else -1
            if end >= 0 and len(self.buf) >= end + 3:
                break
            self._fill()
        body = bytes(self.buf[start + 1:end])
        cs = int(self.buf[end + 1:end + 3], 16)
        del self.buf[:end + 3]
        if sum(body) & 0xff != cs:
            raise RuntimeError("gdbstub: bad checksum")
        self.sock.sendall(b"+")
        return body

    def read(self, addr, n):
        parts = []
        for off in range(0, n, self.chunk):
            m = min(self.chunk, n - off)
            reply = self.packet(b"m%x,%x" % (addr + off, m))
            if len(reply) != 2 * m:
                raise Mismatch("gdbstub m%x,%x: %r" % (addr + off, m,
                                                       reply[:16]))
            parts.append(bytes.fromhex(reply.decode()))
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def close(self):
        self.sock.close()


class _Iovec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class VmReadvPath(Path):
    name = "process_vm_readv"

    def __init__(self, pid, base):
        self.pid = pid
        self.base = base
        libc = ctypes.CDLL(None, use_errno=True)
        self.fn = libc.process_vm_readv
        self.fn.argtypes = [ctypes.c_int, ctypes.POINTER(_Iovec),
                            ctypes.c_ulong, ctypes.POINTER(_Iovec),
                            ctypes.c_ulong, ctypes.c_ulong]
        self.fn.restype = ctypes.c_ssize_t
        self.local = _Iovec()
        self.remote = _Iovec()
        self.plocal = ctypes.pointer(self.local)
        self.premote = ctypes.pointer(self.remote)

    def read(self, addr, n):
        buf = bytearray(n)
        self.local.iov_base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
        self.local.iov_len = n
        self.remote.iov_base = self.base + addr
        self.remote.iov_len = n
        got = self.fn(self.pid, self.plocal, 1, self.premote, 1, 0)
        if got != n:
            err = ctypes.get_errno()
            raise RuntimeError("process_vm_readv: %d of %d bytes (%s)"
                               % (got, n, os.strerror(err)))
        return buf


class V1Path(Path):
    name = "pmemaccess v1"

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)

    def read(self, addr, n):
        self.sock.sendall(struct.pack("=QQQ", 1, addr, n))
        buf = bytearray(n + 1)
        got = self.sock.recv_into(buf, n + 1, socket.MSG_WAITALL)
        while got < n + 1:                  # only if a signal cut it short
            more = self.sock.recv_into(memoryview(buf)[got:], n + 1 - got,
                                       socket.MSG_WAITALL)
            if not more:
                raise RuntimeError("pmemaccess v1: connection closed")
            got += more
        if buf[n] != 1:
            raise Mismatch("pmemaccess v1: status %d at %#x" % (buf[n], addr))
        return memoryview(buf)[:n]

    def close(self):
        self.sock.close()


class V2Path(Path):
    name = "pmemaccess v2"

    def __init__(self, path):
        self.c = pmemaccess.Client(path)

    def read(self, addr, n):
        return self.c.read(addr, n)

    def close(self):
        self.c.close()


class ReadvPath(V2Path):
    name = "pmemaccess v2 READV"

    def read(self, addr, n):
        (status, data), = self.c.readv([(addr, n)])
        if status:
            raise Mismatch("READV %#x: status %d" % (addr, status))
        return data

    def scatter(self, addrs):
        out = []
        for status, data in self.c.readv([(a, 8) for a in addrs]):
            if status:
                raise Mismatch("READV: status %d" % status)
            out.append(data)
        return out


class VirtualPath(V2Path):
    name = "pmemaccess v2 virtual"
    has_list = False

    # The pattern is mapped at VA == GPA: reads go through the walk too.
    def read(self, addr, n):
        return self.c.read(addr, n, root=PML4)

    def resolve(self, va):
        return self.c.read(va, 8, root=PML4)


class MapPath(V2Path):
    name = "pmemmap"

    def __init__(self, path):
        super().__init__(path)
        self.view = self.c.map()

    def read(self, addr, n):
        mv = self.view.gpa(addr, n)
        if mv is None:
            raise Mismatch("pmemmap: %#x+%d not mapped" % (addr, n))
        return bytes(mv)

    def close(self):
        self.view.close()
        super().close()


PATH_ORDER = [XpPath, PmemsavePath, GdbPath, VmReadvPath, V1Path, V2Path,
              ReadvPath, VirtualPath, MapPath]


class MemfdWriter:
    """Writes guest RAM of a QEMU without pmemaccess (stock) through its
    memory-backend-memfd, opened by /proc/PID/fd: how the stock peer gets
    the same guest memory as the patched one."""
    max_payload = 16 * MiB

    def __init__(self, pid, size):
        fd_dir = "/proc/%d/fd" % pid
        for name in os.listdir(fd_dir):
            try:
                link = os.readlink(os.path.join(fd_dir, name))
            except OSError:
                continue
            if link.startswith("/memfd:"):
                fd = os.open(os.path.join(fd_dir, name), os.O_RDWR)
                if os.fstat(fd).st_size == size:
                    break
                os.close(fd)
        else:
            raise RuntimeError("QEMU %d has no memfd of guest RAM" % pid)
        try:
            self.mem = mmap.mmap(fd, size)
        finally:
            os.close(fd)

    def write(self, addr, data):
        self.mem[addr:addr + len(data)] = data

    def close(self):
        self.mem.close()


# --------------------------------------------------------------------------
# Guest memory contents, and the checks

class Guest:
    def __init__(self):
        rnd = random.Random(20260)
        self.pattern = rnd.randbytes(PAT_LEN)
        self.data_page = rnd.randbytes(4096)
        slots = rnd.sample(range(LIST_LO // 64, LIST_HI // 64), NODES)
        self.nodes = [s * 64 for s in slots]
        self.values = [rnd.getrandbits(64) for _ in range(NODES)]
        self.scatter = [PAT + rnd.randrange(0, PAT_LEN // 8) * 8
                        for _ in range(SCATTER)]

    def pat(self, addr, n):
        return self.pattern[addr - PAT:addr - PAT + n]

    def write(self, c):
        for off in range(0, PAT_LEN, c.max_payload):
            c.write(PAT + off, self.pattern[off:off + c.max_payload])
        c.write(DATA_PAGE, self.data_page)
        c.write(PML4, struct.pack("<Q", PDPT | 3))
        c.write(PDPT, struct.pack("<Q", PD | 3))
        pd = bytearray(4096)
        struct.pack_into("<Q", pd, 2 * 8, PT | 3)
        for i in range(PAT_LEN // (2 * MiB)):          # identity, 2 MiB
            va = PAT + i * 2 * MiB
            struct.pack_into("<Q", pd, (va >> 21 & 511) * 8, va | 0x83)
        c.write(PD, bytes(pd))
        pt = bytearray(4096)
        struct.pack_into("<Q", pt, 0, DATA_PAGE | 3)
        c.write(PT, bytes(pt))
        for i, (a, v) in enumerate(zip(self.nodes, self.values)):
            nxt = self.nodes[i + 1] if i + 1 < NODES else 0
            c.write(a, struct.pack("<QQ", nxt, v))

    def ops(self, path):
        """{workload: (function, check)}; check raises Mismatch."""
        def same(what, want):
            def check(got):
                if got != want:
                    raise Mismatch("%s: wrong data" % what)
            return check

        def check_scatter(got):
            if len(got) != SCATTER:
                raise Mismatch("scatter: %d results" % len(got))
            for a, d in zip(self.scatter, got):
                if d != self.pat(a, 8):
                    raise Mismatch("scatter: wrong data at %#x" % a)

        ops = {
            "r8": (lambda: path.read(A8, 8), same("8 B", self.pat(A8, 8))),
            "r4k": (lambda: path.read(A4K, 4096),
                    same("4 KiB", self.pat(A4K, 4096))),
            "r16m": (lambda: path.read(PAT, PAT_LEN),
                     same("16 MiB", self.pattern)),
            "scatter": (lambda: path.scatter(self.scatter), check_scatter),
            "walk": (lambda: path.resolve(VADDR),
                     same("VA %#x" % VADDR, self.data_page[:8])),
        }
        if path.has_list:
            ops["list"] = (lambda: path.walk_list(self.nodes[0]),
                           same("list", self.values))
        return ops


# --------------------------------------------------------------------------
# Measuring

class Cell:
    def __init__(self, samples=None, est=None, note=""):
        self.samples = samples or []
        self.est = est                  # estimated seconds, not run
        self.note = note
        if self.samples:
            self.p50 = percentile(self.samples, 0.5)
            self.p99 = percentile(self.samples, 0.99)
            self.min = min(self.samples)
        else:
            self.p50 = self.p99 = self.min = est

    @property
    def reps(self):
        return len(self.samples)


class Job:
    """One cell to measure: fn() timed, check(result) outside the timing."""

    def __init__(self, key, fn, check, warmup=True, label=None):
        self.key, self.fn, self.check, self.warmup = key, fn, check, warmup
        self.label = label or key
        self.samples = []
        self.spent = 0.0
        self.done = False


def measure(jobs, policy, errors, block_reps=10, block_time=0.05):
    """Measure the jobs round-robin, so that all of them share the
    machine's conditions of the moment: each round gives every job not
    yet done a block of repetitions (block_reps, or block_time, at least
    one), in which it runs as in a loop of its own.  A job is done after
    max_reps, or once it has min_reps and has used its time cap.
    {key: Cell}."""
    def run(job, timed):
        t_begin = now()
        try:
            t0 = time.perf_counter_ns()
            r = job.fn()
            t1 = time.perf_counter_ns()
            if timed:
                job.samples.append((t1 - t0) * 1e-9)
            job.check(r)
        except Mismatch as e:
            errors.append("%s: %s" % (job.label, e))
            print("MISMATCH %s: %s" % (job.label, e), flush=True)
            job.done = True
        job.spent += now() - t_begin

    for job in jobs:
        if job.warmup and policy.warmup:
            run(job, False)
            job.spent = 0.0
    while True:
        active = [j for j in jobs if not j.done]
        if not active:
            break
        for job in active:
            block_start, k = now(), 0
            while not job.done and (k == 0 or (
                    k < block_reps and now() - block_start < block_time)):
                run(job, True)
                k += 1
                if len(job.samples) >= policy.max_reps or (
                        len(job.samples) >= policy.min_reps and
                        job.spent >= policy.cap):
                    job.done = True
    return {j.key: Cell(j.samples) for j in jobs if j.samples}


def echo_server(sock):
    """The bare baseline's peer (forked): 40-byte requests {u64 type,
    u64 length, ...}: type 1 answers 40 bytes, type 2 length bytes.
    The bulk data is random and written once, as guest RAM is: pages
    never touched would be sent from the kernel's shared zero page, a
    baseline no real read has."""
    bulk = random.Random(2).randbytes(16 * MiB)
    reply = bytes(40)
    while True:
        req = sock.recv(40, socket.MSG_WAITALL)
        if len(req) < 40:
            return
        kind, length = struct.unpack_from("<QQ", req)
        if kind == 1:
            sock.sendall(reply)
        elif kind == 2:
            sock.sendall(memoryview(bulk)[:length])
        else:
            return


def fork_child(name, run):
    """Fork a child that runs @run() with default signal handling (Ctrl-C
    is the parent's to handle) and exits 0, or 2 if @run raised."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            for sig in (signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            run()
        except BaseException as e:
            try:
                os.write(2, b"%s: %s\n" % (name.encode(), str(e).encode()))
            except OSError:
                pass
            code = 2
        finally:
            os._exit(code)
    return pid


def start_echo():
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

    def run():
        parent.close()
        echo_server(child)

    pid = fork_child("echo", run)
    child.close()
    return parent, pid


def baseline_jobs(sock):
    """{workload: [Job]}: the bare round trip runs with the 8 B reads,
    the bulk transfer and the local copy with the 16 MiB reads."""
    rt_req = struct.pack("<QQ", 1, 40) + bytes(24)
    bulk_req = struct.pack("<QQ", 2, 16 * MiB) + bytes(24)

    def rt():
        sock.sendall(rt_req)
        return sock.recv(40, socket.MSG_WAITALL)

    def bulk():
        sock.sendall(bulk_req)
        buf = bytearray(16 * MiB)
        view = memoryview(buf)
        got = 0
        while got < len(buf):
            n = sock.recv_into(view[got:])
            if not n:
                raise RuntimeError("echo server closed")
            got += n
        return buf

    src = bytearray(random.Random(1).randbytes(16 * MiB))

    def length(n):
        def check(got):
            if len(got) != n:
                raise Mismatch("%d bytes for %d" % (len(got), n))
        return check

    def copy_check(got):
        if got != src:
            raise Mismatch("copy differs")

    return {"r8": [Job("rt", rt, length(40))],
            "r16m": [Job("bulk", bulk, length(16 * MiB)),
                     Job("memcpy", lambda: bytes(src), copy_check)]}


def guest_ram_base(pid):
    """QEMU's host address of guest RAM (the 1 GiB memfd, offset 0)."""
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            if "memfd:memory-backend-memfd" not in line:
                continue
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if int(fields[2], 16) == 0 and hi - lo >= GiB:
                return lo
    raise RuntimeError("guest RAM not found in /proc/%d/maps" % pid)


def read_counter(c):
    return struct.unpack("<I", c.read(COUNTER, 4))[0]


def progress_rate(c, window):
    a, t0 = read_counter(c), now()
    time.sleep(window)
    b, t1 = read_counter(c), now()
    return ((b - a) & 0xffffffff) / (t1 - t0)


def load_child(vmi, guest, stop_fd, result_fd):
    """Forked: run the v2, READV and pmemmap workloads in a loop until
    stop_fd reaches EOF; report 'iterations mismatches' on result_fd."""
    paths = [V2Path(vmi), ReadvPath(vmi), MapPath(vmi)]
    jobs = [op for p in paths for op in guest.ops(p).values()]
    loops = bad = 0
    os.write(result_fd, b"R")
    while not select.select([stop_fd], [], [], 0)[0]:
        for fn, check in jobs:
            try:
                check(fn())
            except Mismatch:
                bad += 1
        loops += 1
    os.write(result_fd, b"%d %d\n" % (loops, bad))


def start_load(vmi, guest):
    stop_r, stop_w = os.pipe()
    res_r, res_w = os.pipe()
    def run():
        os.close(stop_w)
        os.close(res_r)
        load_child(vmi, guest, stop_r, res_w)

    pid = fork_child("load", run)
    os.close(stop_r)
    os.close(res_w)
    if os.read(res_r, 1) != b"R":
        raise RuntimeError("the load process failed to start")
    return pid, stop_w, res_r


def stop_load(pid, stop_w, res_r):
    os.close(stop_w)
    out = b""
    while True:
        chunk = os.read(res_r, 100)
        if not chunk:
            break
        out += chunk
    os.close(res_r)
    _, status = os.waitpid(pid, 0)
    if status != 0 or not out.strip():
        raise RuntimeError("the load process failed (status %#x)" % status)
    loops, bad = (int(x) for x in out.split())
    return loops, bad


def time_qmp_pair(a, b, calls):
    """query-status on @a and @b in alternating blocks of 10 calls."""
    cells = ([], [])
    for _ in range(max(1, calls // 10)):
        for m, samples in zip((a, b), cells):
            for _ in range(10):
                t0 = time.perf_counter_ns()
                m.cmd("query-status")
                samples.append((time.perf_counter_ns() - t0) * 1e-9)
    return Cell(cells[0]), Cell(cells[1])


def time_qmp(qmp, calls):
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        qmp.cmd("query-status")
        samples.append((time.perf_counter_ns() - t0) * 1e-9)
    return Cell(samples)


# --------------------------------------------------------------------------
# Formatting

def ft(s):
    """Seconds, three significant digits."""
    if s is None:
        return "–"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            v = s / scale
            break
    else:
        unit, v = "ns", s / 1e-9
    return ("%.3g" % v if v < 1000 else "%.0f" % v) + " " + unit


def fr(r):
    if r is None:
        return "–"
    if r < 0.095:
        return "%.2g×" % r
    if r < 9.95:
        return "%.1f×" % r
    return "%.0f×" % r


def fbw(nbytes, s):
    if not s:
        return "–"
    bw = nbytes / s
    if bw >= GiB:
        return "%.2f GiB/s" % (bw / GiB)
    if bw >= MiB:
        return "%.1f MiB/s" % (bw / MiB)
    return "%.0f KiB/s" % (bw / KiB)


def md_table(head, rows):
    out = ["| " + " | ".join(head) + " |",
           "|" + "|".join("---" if i == 0 else "---:"
                          for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def baseline_for(wl, base):
    """(label, seconds) of the baselines a workload compares with."""
    rt = base["rt"].p50 if base["rt"] else None
    if wl in ("r8", "r4k"):
        return [("1 RT", rt)]
    if wl == "r16m":
        return [("bulk", base["bulk"] and base["bulk"].p50),
                ("memcpy", base["memcpy"] and base["memcpy"].p50)]
    n = {"scatter": SCATTER, "walk": 5, "list": NODES}[wl]
    return [("%d RT" % n, rt and rt * n)]


def users_today(res, peers):
    """Rows: per workload, xp and pmemsave of stock QEMU and of the
    patched one, pmemaccess v2 and pmemmap, and the ratios of p50s."""
    def p50(name, wl):
        c = res[name].get(wl) if name else None
        return c.p50 if c and c.p50 else None

    def est(name, wl):
        c = res[name].get(wl) if name else None
        return "est. " if c is not None and c.est is not None else ""

    def cell(name, wl):
        t = p50(name, wl)
        return est(name, wl) + ft(t) if t else "n/a"

    def ratio(a, b):
        return fr(a / b) if a and b else "–"

    sxp, spm = (peers["stock"] + [None, None])[:2]
    pxp, ppm = peers["patched"][:2]
    rows = []
    for wl, title in WORKLOADS:
        v2, mp = p50(peers["v2"], wl), p50(peers["pmemmap"], wl)
        rows.append([title, cell(sxp, wl), cell(spm, wl), cell(pxp, wl),
                     cell(ppm, wl), cell(peers["v2"], wl),
                     cell(peers["pmemmap"], wl),
                     ratio(p50(sxp, wl), v2), ratio(p50(pxp, wl), v2),
                     ratio(p50(sxp, wl), mp), ratio(p50(pxp, wl), mp)])
    return rows


def report(res, paths, base, busy, info, policy, peers):
    fastest = {}
    for wl, _ in WORKLOADS:
        vals = [res[p][wl].p50 for p in paths
                if res[p].get(wl) and res[p][wl].p50]
        fastest[wl] = min(vals) if vals else None

    def cell_text(c, wl):
        if c is None:
            return "n/a"
        text = ft(c.p50)
        if c.est is not None:
            text = "est. " + text
        return "%s [%s]" % (text, fr(c.p50 / fastest[wl]))

    rows = [[p] + [cell_text(res[p].get(wl), wl) for wl, _ in WORKLOADS]
            for p in paths]
    t1 = md_table(["path"] + [t for _, t in WORKLOADS], rows)

    def bl(c):
        return ["–", "–"] if c is None else [ft(c.p50), ft(c.p99)]

    def vs(a, b, attr="p50"):
        if a is None or b is None:
            return "–"
        return fr(getattr(a, attr) / getattr(b, attr))

    def mps(rates):
        return "%.0f–%.0f M/s" % (min(rates) / 1e6, max(rates) / 1e6)

    rows2 = [
        ["bare UNIX round trip (40 B ⇄ 40 B, forked echo)"] +
        bl(base["rt"]) + ["with the 8 B reads"],
        ["bare UNIX bulk 16 MiB"] + bl(base["bulk"]) +
        [fbw(16 * MiB, base["bulk"] and base["bulk"].p50)],
        ["local memcpy 16 MiB (bytes(bytearray))"] + bl(base["memcpy"]) +
        [fbw(16 * MiB, base["memcpy"] and base["memcpy"].p50)],
    ]
    if busy:
        rows2 += [
            ["guest progress, no introspection",
             "%.1f M/s" % (busy["rate0"] / 1e6), "",
             "counter at 0x500; median of %d windows of %g s (%s)"
             % (len(busy["idle"]), policy.idle_window, mps(busy["idle"]))],
            ["guest progress, v2 + READV + pmemmap load",
             "%.1f M/s" % (busy["rate_load"] / 1e6), "",
             "**slowdown %.1f %%**; median of %d windows of %g s (%s), "
             "alternating with the idle ones; %d load loops"
             % (busy["slowdown"], len(busy["loaded"]), policy.load_window,
                mps(busy["loaded"]), busy["loops"])],
            ["QMP query-status, guest stopped"] + bl(busy["qs_stopped"]) +
            ["%d calls" % busy["qs_stopped"].reps],
        ]
        if "qs_stock" in busy:
            rows2 += [
                ["QMP query-status, %s, stopped" % busy["stock"]] +
                bl(busy["qs_stock"]) +
                ["**%s** the patched QEMU's, alternating blocks of 10 "
                 "calls (patched p50 %s)" %
                 (vs(busy["qs_stock"], busy["qs_patched"]),
                  ft(busy["qs_patched"].p50))]]
        rows2 += [
            ["QMP query-status, guest running + load"] +
            bl(busy["qs_busy"]) +
            ["**%s** stopped p50 (p99: %s)" %
             (vs(busy["qs_busy"], busy["qs_stopped"]),
              vs(busy["qs_busy"], busy["qs_stopped"], "p99"))],
            ["v2 READ 8 B, guest running"] + bl(busy["r8"]) +
            ["%s stopped p50" % vs(busy["r8"], busy["r8_idle"])],
            ["v2 READV 256 × 8 B, guest running"] + bl(busy["scatter"]) +
            ["%s stopped p50" % vs(busy["scatter"], busy["scatter_idle"])],
        ]
    t2 = md_table(["baseline / busy guest", "p50", "p99", "note"], rows2)

    rows3 = []
    for p in paths:
        for wl, title in WORKLOADS:
            c = res[p].get(wl)
            if c is None:
                rows3.append([p, title, "n/a", "", "", "", "", "", ""])
                continue
            bls = ", ".join("%s vs %s" % (fr(c.p50 / s), lab)
                            for lab, s in baseline_for(wl, base) if s)
            rows3.append([
                p, title,
                ("est. " if c.est is not None else "") + ft(c.p50),
                "–" if c.est is not None else ft(c.p99),
                "–" if c.est is not None else ft(c.min),
                fbw(WL_BYTES[wl], c.p50) if wl in WL_BYTES else "",
                fr(c.p50 / fastest[wl]), bls,
                c.note or str(c.reps)])
    t3 = md_table(["path", "workload", "p50", "p99", "min", "throughput",
                   "× fastest", "× baseline", "reps"], rows3)

    notes = [
        "Per workload, every path (and the workload's baselines) is "
        "measured round-robin, in blocks of up to 10 repetitions or 50 ms, "
        "so that all share the machine's conditions of the moment.",
        "Small reads over a socket have a bimodal latency on a machine "
        "whose idle CPUs halt (a VM): the reply is fast when the peer "
        "thread runs on the same CPU, slower when it must wake another; "
        "the mix, hence p50, varies from run to run. min shows the floor.",
        "RT = the bare round trip's p50; bulk, memcpy = the 16 MiB "
        "baselines' p50. × fastest: p50 over the best p50 of the workload.",
        "resolve VA: VA %#x through PML4 %#x (4 KiB page): 4 dependent "
        "8-byte physical reads plus the final one, client-side; the v2 "
        "virtual path sends one virtual READ instead." % (VADDR, PML4),
        "pmemaccess v2 virtual reads the pattern (GPA 16-32 MiB) through "
        "an identity mapping with 2 MiB pages (PD entries 8-15) added to "
        "those tables; list walk: n/a (the nodes are physical).",
        "READV: the 256 scattered reads are one READV; the other "
        "workloads send one single-segment READV per read.",
        "est.: not run: the 4 KiB p50 × 4096 is over %g s." %
        policy.est_limit,
        "Guest: the BIOS loop increments the u32 at 0x500 and writes "
        "0x1000-0x8fff (an `and di,0x7ffe` keeps its stores off the "
        "counter, see the source).",
    ]
    stock = busy.get("stock", "stock QEMU (not installed)")
    t0 = md_table(["workload", "xp, %s" % stock, "pmemsave, %s" % stock,
                   "xp, patched", "pmemsave, patched", "pmemaccess v2",
                   "pmemmap", "v2 vs stock xp", "v2 vs patched xp",
                   "pmemmap vs stock xp", "pmemmap vs patched xp"],
                  users_today(res, peers))
    md = ["# vmi-compare: reading guest memory, every way, in one run", "",
          info, "",
          "## Against what users have today", "",
          "xp (LibVMI's fallback, drgn's --qemu) and pmemsave of Debian's "
          "own QEMU (%s, no series) and of the patched QEMU, both started "
          "with the same arguments and measured in this run; the ratios "
          "(p50 over p50) say how many times faster pmemaccess v2 and "
          "pmemmap are.  The gdbstub, in the next table, is faster than "
          "both for small reads, but it is a debugger's: the guest stops "
          "when one attaches, and it serves one at a time." % stock, "",
          t0, "",
          "## p50 latency [ratio to the fastest path of the workload]", "",
          t1, "", "## Baselines and busy guest", "", t2, "",
          "## Every cell: p50, p99, min, throughput, ratios", "", t3, "",
          "Notes:", ""] + ["- " + n for n in notes]
    return "\n".join(md) + "\n", fastest


def plot(res, paths, base, png):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        print("vmi-compare: no matplotlib (apt-get install "
              "python3-matplotlib): %s not written" % png)
        return False
    fig, ax = plt.subplots(figsize=(15, 7))
    n = len(paths)
    width = 0.8 / n
    colors = plt.get_cmap("tab10").colors
    for i, p in enumerate(paths):
        xs, ys, hatches = [], [], []
        for j, (wl, _) in enumerate(WORKLOADS):
            c = res[p].get(wl)
            if c is None or not c.p50:
                continue
            xs.append(j - 0.4 + width * (i + 0.5))
            ys.append(c.p50)
            hatches.append("//" if c.est is not None else "")
        bars = ax.bar(xs, ys, width, label=p, color=colors[i % 10],
                      edgecolor="black", linewidth=0.3)
        for b, h in zip(bars, hatches):
            if h:
                b.set_hatch(h)
                b.set_alpha(0.45)
    lines = {"r8": [("bare RT", base["rt"])],
             "r4k": [("bare RT", base["rt"])],
             "r16m": [("bare bulk", base["bulk"]),
                      ("memcpy", base["memcpy"])]}
    styles = {"bare RT": "--", "bare bulk": "-.", "memcpy": ":"}
    seen = set()
    for j, (wl, _) in enumerate(WORKLOADS):
        for label, c in lines.get(wl, []):
            if c is None:
                continue
            ax.hlines(c.p50, j - 0.45, j + 0.45, colors="black",
                      linestyles=styles[label], linewidth=1.2,
                      label="baseline: " + label if label not in seen
                      else None)
            seen.add(label)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(
        matplotlib.ticker.FuncFormatter(lambda v, _: ft(v)))
    ax.set_xticks(range(len(WORKLOADS)))
    ax.set_xticklabels([t for _, t in WORKLOADS])
    ax.set_ylabel("p50 latency (log scale)")
    ax.set_title("Reading guest memory: p50 latency per workload "
                 "(hatched = estimated, not run; lower is better)")
    ax.grid(axis="y", which="major", alpha=0.4)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return True


# --------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qemu", default=qemubuild.BINARY)
    ap.add_argument("--stock", default="/usr/bin/qemu-system-x86_64",
                    help="Debian's own QEMU, the peer users have today "
                    "(if missing, its rows are left out)")
    ap.add_argument("--out", default=os.path.join(
        TOP, "build", qemubuild.BASE, "compare"))
    ap.add_argument("--quick", action="store_true",
                    help="few repetitions, tiny time caps (tests)")
    args = ap.parse_args()
    policy = Policy(args.quick)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    socks = {k: os.path.join(out, k + ".sock")
             for k in ("qmp", "gdb", "vmi", "stock-qmp", "stock-gdb")}
    if len(socks["stock-qmp"]) > 100:
        raise RuntimeError("%s: path too long for a UNIX socket" % out)
    if not os.access(args.qemu, os.X_OK):
        raise RuntimeError("no QEMU at %s (make build)" % args.qemu)

    def on_signal(sig, _):
        raise SystemExit(128 + sig)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    t_start = now()
    bios = bytearray(64 * KiB)
    bios[:len(GUEST_CODE)] = GUEST_CODE
    bios[0xFFF0:0xFFF0 + len(RESET_VECTOR)] = RESET_VECTOR
    bios_path = os.path.join(out, "bios.bin")
    with open(bios_path, "wb") as f:
        f.write(bios)

    def start_qemu(binary, qmp_sock, gdb_sock):
        """The same machine for the patched QEMU and the stock one."""
        return subprocess.Popen([
            binary, "-machine", "pc,memory-backend=ram0", "-m", "1G",
            "-object", "memory-backend-memfd,id=ram0,size=1G,share=on",
            "-accel", "tcg", "-bios", bios_path, "-display", "none",
            "-nodefaults", "-S",
            "-qmp", "unix:%s,server=on,wait=off" % qmp_sock,
            "-gdb", "unix:%s,server=on,wait=off" % gdb_sock],
            stdin=subprocess.DEVNULL)

    def label(version, what):
        return "%s QEMU %d.%d.%d" % (what, version["major"], version["minor"],
                                     version["micro"])

    errors = []
    proc = qmp = echo_pid = load = None
    stock_proc = stock_qmp = None
    paths, stock_names = [], []
    counter = None
    try:
        echo_sock, echo_pid = start_echo()
        guest = Guest()
        for s in socks.values():
            if os.path.exists(s):
                os.unlink(s)
        proc = start_qemu(args.qemu, socks["qmp"], socks["gdb"])
        qmp = Qmp(socks["qmp"], proc)
        version = qmp.cmd("query-version")["qemu"]
        patched = label(version, "patched")
        stock_paths = []
        if os.access(args.stock, os.X_OK):
            stock_proc = start_qemu(args.stock, socks["stock-qmp"],
                                    socks["stock-gdb"])
            stock_qmp = Qmp(socks["stock-qmp"], stock_proc)
            stock = label(stock_qmp.cmd("query-version")["qemu"], "stock")
            ram = MemfdWriter(stock_proc.pid, 1 * GiB)
            guest.write(ram)
            ram.close()
            stock_paths = [XpPath(stock_qmp, stock),
                           PmemsavePath(stock_qmp, stock),
                           GdbPath(socks["stock-gdb"], stock)]
            stock_names = [p.name for p in stock_paths]
        else:
            print("vmi-compare: no stock QEMU at %s (apt-get install "
                  "qemu-system-x86, or --stock PATH): its rows are left out"
                  % args.stock, flush=True)
        qmp.cmd("pmemaccess", path=socks["vmi"], write=True,
                lifetime="until-stopped")
        qmp.cmd("pmemmap")
        counter = pmemaccess.Client(socks["vmi"])
        guest.write(counter)
        base_addr = guest_ram_base(proc.pid)

        v2 = V2Path(socks["vmi"])
        readv = ReadvPath(socks["vmi"])
        gdb = GdbPath(socks["gdb"], patched)
        slow = [XpPath(qmp, patched), PmemsavePath(qmp, patched), gdb]
        mapped = MapPath(socks["vmi"])
        paths = stock_paths + slow + [
            VmReadvPath(proc.pid, base_addr), V1Path(socks["vmi"]), v2,
            readv, VirtualPath(socks["vmi"]), mapped]
        peers = {"stock": stock_names, "patched": [p.name for p in slow],
                 "v2": v2.name, "pmemmap": mapped.name}
        names = [p.name for p in paths]

        print("vmi-compare: %s mode; QEMU pid %d; guest RAM at %#x in QEMU"
              % ("quick" if policy.quick else "full", proc.pid, base_addr),
              flush=True)

        # Per workload, all paths and its baselines round-robin.
        base_jobs = baseline_jobs(echo_sock)
        ops = {p.name: guest.ops(p) for p in paths}
        res = {p.name: {} for p in paths}
        base = {}
        for wl, title in WORKLOADS:
            jobs = []
            for p in paths:
                if wl not in ops[p.name]:
                    continue
                warm = True
                if wl == "r16m" and isinstance(p, (XpPath, GdbPath)):
                    small = res[p.name].get("r4k")
                    est = small.p50 * 4096 if small else float("inf")
                    if est > policy.est_limit:
                        res[p.name][wl] = Cell(est=est, note="est.")
                        continue
                    warm = est < 1.0
                fn, check = ops[p.name][wl]
                jobs.append(Job(p.name, fn, check, warm,
                                "%s / %s" % (p.name, title)))
            jobs += base_jobs.get(wl, [])
            cells = measure(jobs, policy, errors)
            for key, c in cells.items():
                (res[key] if key in res else base)[wl if key in res
                                                   else key] = c
            print("  %s: %s" % (title, ", ".join(
                "%s %s%s" % (k, "est. " if res[k][wl].est else "",
                             ft(res[k][wl].p50))
                for k in names if wl in res[k])), flush=True)
        for k in ("rt", "bulk", "memcpy"):
            base.setdefault(k, None)

        # Busy guest.
        busy = {}
        if stock_qmp:
            busy["qs_stock"], busy["qs_patched"] = time_qmp_pair(
                stock_qmp, qmp, policy.qs_calls)
            busy["stock"] = stock
        busy.update({"qs_stopped": time_qmp(qmp, policy.qs_calls),
                "r8_idle": res[v2.name].get("r8"),
                "scatter_idle": res[readv.name].get("scatter")})
        gdb.close()     # the gdbstub stops a running VM on any byte it gets
        qmp.cmd("cont")
        time.sleep(0.2)
        if qmp.cmd("query-status")["status"] != "running":
            raise RuntimeError("the guest does not run")
        if progress_rate(counter, 0.05) <= 0:
            raise RuntimeError("the guest makes no progress")
        cells = measure([
            Job("r8", *ops[v2.name]["r8"], label="busy guest / v2 8 B"),
            Job("scatter", *ops[readv.name]["scatter"],
                label="busy guest / READV 256 × 8 B")], policy, errors)
        busy["r8"], busy["scatter"] = cells.get("r8"), cells.get("scatter")
        # Guest progress, idle and under load, in alternating windows: the
        # load process is paused (SIGSTOP) during the idle ones.
        load = start_load(socks["vmi"], guest)
        os.kill(load[0], signal.SIGSTOP)
        idle, loaded = [], []
        for _ in range(policy.windows):
            idle.append(progress_rate(counter, policy.idle_window))
            os.kill(load[0], signal.SIGCONT)
            time.sleep(0.05)
            loaded.append(progress_rate(counter, policy.load_window))
            os.kill(load[0], signal.SIGSTOP)
        os.kill(load[0], signal.SIGCONT)
        busy["qs_busy"] = time_qmp(qmp, policy.qs_calls)
        busy["loops"], bad = stop_load(*load)
        load = None
        if bad:
            errors.append("load process: %d mismatches" % bad)
        busy["idle"], busy["loaded"] = idle, loaded
        busy["rate0"] = statistics.median(idle)
        busy["rate_load"] = statistics.median(loaded)
        busy["slowdown"] = 100 * (1 - busy["rate_load"] / busy["rate0"])
        print("  busy guest: %.1f M/s idle, %.1f M/s under load (%.1f %%)"
              % (busy["rate0"] / 1e6, busy["rate_load"] / 1e6,
                 busy["slowdown"]), flush=True)

        elapsed = now() - t_start
        info = ("QEMU %d.%d.%d (%s), TCG, 1 GiB memfd RAM, pc machine; "
                "host: %d CPUs, Linux %s, Python %s; %s mode "
                "(≤ %d reps or %g s per cell, ≥ %d reps); run took %.0f s; "
                "%s." % (
                    version["major"], version["minor"], version["micro"],
                    os.path.relpath(args.qemu), os.cpu_count(),
                    platform.release(), platform.python_version(),
                    "quick" if policy.quick else "full", policy.max_reps,
                    policy.cap, policy.min_reps, elapsed,
                    time.strftime("%Y-%m-%d %H:%M")))
        md, _ = report(res, names, base, busy, info, policy, peers)
        print()
        print(md)
        with open(os.path.join(out, "compare.md"), "w") as f:
            f.write(md)
        png = os.path.join(out, "compare.png")
        if plot(res, names, base, png):
            print("vmi-compare: wrote %s and %s" %
                  (os.path.join(out, "compare.md"), png))
    finally:
        if load:
            try:
                os.kill(load[0], signal.SIGKILL)
                os.waitpid(load[0], 0)
            except OSError:
                pass
        for p in paths:
            try:
                p.close()
            except Exception:
                pass
        if counter:
            counter.close()
        for m, pr in ((qmp, proc), (stock_qmp, stock_proc)):
            if m:
                try:
                    m.sock.settimeout(5)
                    m.cmd("quit")
                except Exception:
                    pass
                m.close()
            if pr:
                if pr.poll() is None:
                    try:
                        pr.wait(2)
                    except subprocess.TimeoutExpired:
                        pr.terminate()
                try:
                    pr.wait(5)
                except subprocess.TimeoutExpired:
                    pr.kill()
                    pr.wait()
        if echo_pid:
            try:
                os.kill(echo_pid, signal.SIGKILL)
                os.waitpid(echo_pid, 0)
            except OSError:
                pass
        for s in socks.values():
            try:
                os.unlink(s)
            except OSError:
                pass
    if errors:
        print("vmi-compare: %d mismatches:" % len(errors))
        for e in errors:
            print("  " + e)
        return 1
    print("vmi-compare: all data checked, %.0f s" % (now() - t_start))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, OSError, QmpError, pmemaccess.PmemError) as e:
        print("vmi-compare: error: %s" % e, file=sys.stderr)
        sys.exit(2)
