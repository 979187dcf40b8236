#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""QMP read-guest-memory against xp through human-monitor-command, and
against query-status (the cost of any QMP command), on one connection.

    qmp-read-bench.py [--qemu BINARY] [--rounds N] [--quick]

Starts the patched QEMU (pc, -accel qtest: an idle machine, so the
figures are the monitor's own), writes a random 4 KiB pattern with
write-guest-memory, then times, interleaved round by round so that drift
hits every method alike:

  query-status               the QMP floor
  read-guest-memory 8 B      base64 decoded (in-band: the command is
  read-guest-memory 4 KiB    not allowed out-of-band, it can block)
  xp 8 B, xp 4 KiB           human-monitor-command "xp /Ngx" (8-byte
                             units: xp's least text), hexdump parsed
  xp 4 KiB /bx               "xp /4096bx", byte by byte, as a debugger
                             reading bytes does

Every reply's data is checked against the pattern.  Prints the median
and 90th percentile of each, and the two figures of issue 9: 4 KiB at
least 20x faster than xp (judged against xp /4096bx, which a debugger
reading bytes uses; the other ratio is printed too), 8 B within 1.5x
of query-status.  --quick
(used by check) runs few rounds: it proves that everything works and
reads right; its timings are not judged.
"""

import argparse
import base64
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../clients/python"))

import qemubuild                           # noqa: E402
from qmptest import connect_unix        # noqa: E402
QEMU = qemubuild.BINARY
ADDR = 0x100000


class Qmp:
    """Minimal QMP client: one JSON line out, one reply line in."""

    def __init__(self, path):
        self.sock = connect_unix(path)
        self.f = self.sock.makefile("rwb", buffering=0)
        self.rf = self.sock.makefile("rb")
        self.rf.readline()
        self.cmd("qmp_capabilities")

    def send(self, line):
        self.sock.sendall(line)
        while True:
            reply = json.loads(self.rf.readline())
            if "event" not in reply:
                if "return" not in reply:
                    raise RuntimeError("QMP error: %s" % reply)
                return reply["return"]

    def cmd(self, name, **args):
        return self.send(json.dumps({"execute": name,
                                     "arguments": args}).encode() + b"\n")


def parse_xp(text, unit):
    """The bytes of an xp hexdump ("0000000000100000: 0x... 0x...")."""
    fmt = {1: "B", 8: "<Q"}[unit]
    out = bytearray()
    for line in text.splitlines():
        for word in line.partition(":")[2].split():
            out += struct.pack(fmt, int(word, 16))
    return bytes(out)


def methods(qmp):
    """name -> (encoded request, size, decode(reply) -> bytes)"""
    def qmp_read(size):
        line = json.dumps({"execute": "read-guest-memory", "id": 1,
                           "arguments": {
                               "addr": ADDR, "size": size}}).encode()
        return (line + b"\n", size, lambda r: base64.b64decode(r["data"]))

    def xp(count, fmt, unit):
        line = json.dumps({"execute": "human-monitor-command", "arguments": {
            "command-line": "xp /%d%s 0x%x" % (count, fmt, ADDR)}}).encode()
        return (line + b"\n", count * unit, lambda r: parse_xp(r, unit))

    status = json.dumps({"execute": "query-status"}).encode() + b"\n"
    return {
        "query-status": (status, 0, lambda r: b""),
        "read-guest-memory 8 B": qmp_read(8),
        "read-guest-memory 4 KiB": qmp_read(4096),
        "xp 8 B": xp(1, "gx", 8),
        "xp 4 KiB": xp(512, "gx", 8),
        "xp 4 KiB /bx": xp(4096, "bx", 1),
    }


def percentile(samples, q):
    s = sorted(samples)
    return s[min(len(s) - 1, int(q * len(s)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qemu", default=os.environ.get("QEMU_BINARY", QEMU))
    ap.add_argument("--rounds", type=int, default=2000)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rounds = 30 if args.quick else args.rounds

    tmp = tempfile.mkdtemp(prefix="qmp-read-bench-")
    path = os.path.join(tmp, "qmp.sock")
    proc = subprocess.Popen([
        args.qemu, "-machine", "pc", "-m", "256M", "-accel", "qtest",
        "-display", "none", "-nodefaults", "-introspection", "write=on",
        "-qmp", "unix:%s,server=on,wait=off" % path],
        stdin=subprocess.DEVNULL)
    try:
        qmp = Qmp(path)
        pattern = os.urandom(4096)
        qmp.cmd("write-guest-memory", addr=ADDR,
                data=base64.b64encode(pattern).decode())
        table = methods(qmp)
        names = list(table)
        samples = {n: [] for n in names}
        for i in range(rounds + 10):
            random.shuffle(names)
            for n in names:
                line, size, decode = table[n]
                t = time.perf_counter()
                data = decode(qmp.send(line))
                dt = time.perf_counter() - t
                if data != pattern[:size]:
                    print("qmp-read-bench: %s read wrong data" % n)
                    return 1
                if i >= 10:             # warm-up rounds are not counted
                    samples[n].append(dt)
        qmp.cmd("quit")
    finally:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)

    med = {n: percentile(s, 0.5) for n, s in samples.items()}
    print("qmp-read-bench: %d rounds, idle pc machine (-accel qtest), "
          "one QMP connection, data checked" % rounds)
    print("%-26s %12s %12s" % ("method", "median us", "p90 us"))
    for n in table:
        print("%-26s %12.1f %12.1f" % (n, med[n] * 1e6,
                                       percentile(samples[n], 0.9) * 1e6))
    r4k = med["read-guest-memory 4 KiB"]
    print("4 KiB: read-guest-memory is %.1fx faster than xp /4096bx, "
          "%.1fx than xp /512gx" % (med["xp 4 KiB /bx"] / r4k,
                                    med["xp 4 KiB"] / r4k))
    # the targets of issue 9: 4 KiB >= 20x xp, 8 B <= 1.5x query-status
    speedup = med["xp 4 KiB /bx"] / r4k
    floor = med["read-guest-memory 8 B"] / med["query-status"]
    ok = speedup >= 20 and floor <= 1.5
    print("targets: 4 KiB vs xp /4096bx %.1fx (>= 20x), 8 B vs "
          "query-status %.2fx (<= 1.5x)" % (speedup, floor))
    if args.quick:
        print("qmp-read-bench: quick run, timings not judged")
        return 0
    print("qmp-read-bench: targets %s" % ("met" if ok else "MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
