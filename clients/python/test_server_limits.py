# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""The pmemaccess server at the limits of the process it runs in.

QEMU started with RLIMIT_NOFILE = 64: clients connect until QEMU has no
file descriptor left for the next one, which waits in the listen
backlog.  The server's accept thread must then wait (it used to spin at
100 % of a core), serve the waiting client once fds are free again, and
leave QEMU's monitor working throughout.

Run: python3 -m unittest -v test_server_limits.
"""

import os
import resource
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import unittest

import qemubuild
from qmptest import Qmp, thread_names

QEMU = qemubuild.BINARY
NOFILE = 64
V1_READ = 1


def v1_read8(sock, addr):
    sock.sendall(struct.pack("=QQQ", V1_READ, addr, 8))
    data = b""
    while len(data) < 9:
        chunk = sock.recv(9 - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def thread_cpu_seconds(pid, comm):
    """CPU time (user + system) of @pid's thread named @comm."""
    for tid, name in thread_names(pid).items():
        if name != comm:
            continue
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            fields = f.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    raise AssertionError("QEMU has no thread %r" % comm)


class OutOfFdsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="pmemaccess-limits-")
        qmp = os.path.join(self.dir, "qmp.sock")

        def limit_fds():
            resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))
        self.qemu = subprocess.Popen([
            QEMU, "-machine", "pc", "-m", "64M", "-accel", "qtest",
            "-name", "debug-threads=on",  # thread names, for /proc
            "-qtest", "null", "-display", "none", "-nodefaults",
            "-qmp", "unix:%s,server=on,wait=off" % qmp],
            preexec_fn=limit_fds)
        self.qmp = Qmp(qmp)
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        self.qmp.close()
        self.qemu.kill()
        self.qemu.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_accept_waits_when_out_of_fds(self):
        path = os.path.join(self.dir, "pm.sock")
        reply = self.qmp.cmd("pmemaccess", path=path, id="limits",
                             **{"max-clients": 1024})
        self.assertEqual(reply, {"return": {"id": "limits"}})

        waiting = None
        for _ in range(NOFILE):
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)             # the kernel queues it: no fd yet
            s.settimeout(1.0)
            try:
                self.assertEqual(v1_read8(s, 0), bytes(8) + b"\1")
            except (socket.timeout, TimeoutError):
                waiting = s
                break
            self.clients.append(s)
        self.assertIsNotNone(waiting, "QEMU never ran out of fds")
        self.assertGreater(len(self.clients), NOFILE // 2)

        # the accept thread waits instead of spinning on EMFILE
        before = thread_cpu_seconds(self.qemu.pid, "pmemacc-accept")
        time.sleep(2)
        spent = thread_cpu_seconds(self.qemu.pid, "pmemacc-accept") - before
        self.assertLess(spent, 0.5, "accept thread busy %.2f s of 2 s"
                        % spent)
        self.assertEqual(self.qmp.cmd("query-status")["return"]["status"],
                         "running")

        # fds free again: the waiting client is served
        for c in self.clients[:4]:
            c.close()
        del self.clients[:4]
        waiting.settimeout(10)
        self.assertEqual(v1_read8(waiting, 0), bytes(8) + b"\1")
        waiting.close()
        info = {s["id"]: s for s in
                self.qmp.cmd("query-pmemaccess")["return"]}["limits"]
        self.assertEqual(info["connections"], len(self.clients) + 5)


if __name__ == "__main__":
    unittest.main()
