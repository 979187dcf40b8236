# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""LibVMI's KVM legacy driver, tool after tool, against one running VM.

Each "tool" does what LibVMI does on vmi_init and vmi_destroy: QMP
pmemaccess {"path": A_NEW_PATH} (sent by the manager, as libvirt does
for LibVMI), connect right after the reply, version 1 READs of a page
read with one recv() of length + 1 bytes, a version 1 QUIT, close.  It
never stops the server it started.

Against the counting BIOS of test_paused running under TCG, with a
pattern written at 16 MiB and checked with pmemsave first: 20 tools in
a row, 8 at once, and tools killed (SIGKILL) after connecting, in the
middle of a request, while a reply is on its way, and between the QMP
reply and the connect.  Every read is checked against the pattern.
Afterwards no server of theirs is listed, none of their socket files is
left, no pmemaccess thread is left, QEMU's fd count is back to what it
was and its thread count no higher.

Run: python3 -m unittest -v test_libvmi_sessions.
"""

import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import qemubuild
from pmemaccess import Client
from qmptest import Qmp, thread_names
from test_paused import counting_bios

QEMU = qemubuild.BINARY
PATTERN_AT = 16 << 20
PATTERN_LEN = 1 << 20
PAGE = 4096
COUNTER = 0x500             # the counting BIOS adds 1 here, in a loop
V1_QUIT, V1_READ = 0, 1
CONNECT_TIMEOUT = 30        # the default connect-timeout, in seconds


def v1_request(kind, addr=0, length=0):
    return struct.pack("=QQQ", kind, addr, length)


def wait_for(condition, timeout, what):
    """Poll @condition until it is true; fail with @what after @timeout s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("after %d s: %s" % (timeout, what()))
        time.sleep(0.05)


# A tool process for the killed cases: connect, send what argv says, then
# wait to be killed.  It prints "ready" once it is where it should die.
TOOL = r"""
import socket, struct, sys, time
path, how = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.connect(path)
if how == "half-request":
    s.sendall(struct.pack("=QQQ", 1, %d, 4096)[:10])
elif how == "big-reply":
    s.sendall(struct.pack("=QQQ", 1, 0, 64 << 20))
elif how == "between-reads":
    s.sendall(struct.pack("=QQQ", 1, %d, 4096))
    got = 0
    while got < 4097:
        got += len(s.recv(8192))
print("ready", flush=True)
time.sleep(600)
""" % (PATTERN_AT, PATTERN_AT)


class LibvmiSessionsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="pmemaccess-libvmi-")
        bios = os.path.join(cls.dir, "bios.bin")
        with open(bios, "wb") as f:
            f.write(counting_bios())
        qmp = os.path.join(cls.dir, "qmp.sock")
        cls.qemu = subprocess.Popen(
            [QEMU, "-machine", "pc", "-m", "256M", "-accel", "tcg",
             "-bios", bios, "-display", "none", "-nodefaults",
             "-name", "debug-threads=on",
             "-qmp", "unix:%s,server=on,wait=off" % qmp])
        cls.qmp = Qmp(qmp)
        cls.qmp_lock = threading.Lock()
        cls.pattern = random.Random(15).randbytes(PATTERN_LEN)
        setup = os.path.join(cls.dir, "setup.sock")
        reply = cls.qmp.cmd("pmemaccess", path=setup, id="setup", write=True)
        assert reply == {"return": {"id": "setup"}}, reply
        with Client(setup) as c:
            c.write(PATTERN_AT, cls.pattern)
        assert cls.qmp.cmd("pmemaccess-stop", id="setup") == {"return": {}}
        assert cls.qmp.pmemsave(PATTERN_AT, PATTERN_LEN) == cls.pattern
        cls.sockets = []

    @classmethod
    def tearDownClass(cls):
        cls.qmp.close()
        cls.qemu.kill()
        cls.qemu.wait()
        shutil.rmtree(cls.dir, ignore_errors=True)

    # --- what the manager (libvirt) does for the tool -------------------

    def start_server(self):
        """QMP pmemaccess {path}, as LibVMI sends it: returns (id, path)."""
        path = tempfile.mktemp(prefix="vmi", dir=self.dir)
        with self.qmp_lock:
            reply = self.qmp.cmd("pmemaccess", path=path)
        self.assertIn("return", reply)
        sid = reply["return"]["id"]
        self.sockets.append((sid, path))
        return sid, path

    def servers(self):
        with self.qmp_lock:
            return {s["id"]: s for s in
                    self.qmp.cmd("query-pmemaccess")["return"]}

    def counts(self):
        pid = self.qemu.pid
        return (len(os.listdir("/proc/%d/fd" % pid)),
                len(os.listdir("/proc/%d/task" % pid)))

    def server_threads(self):
        """QEMU's pmemaccess threads (named, with -name debug-threads=on)"""
        return [n for n in thread_names(self.qemu.pid).values()
                if n.startswith("pmemacc")]

    # --- what the tool does ---------------------------------------------

    def libvmi_tool(self, reads=8):
        sid, path = self.start_server()
        rng = random.Random(sid)
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)             # at once: it must be listening already
        try:
            for _ in range(reads):
                off = rng.randrange(0, PATTERN_LEN - PAGE, 8)
                s.sendall(v1_request(V1_READ, PATTERN_AT + off, PAGE))
                data = s.recv(PAGE + 1)     # LibVMI: one read() of len + 1
                self.assertEqual(len(data), PAGE + 1)
                self.assertEqual(data[PAGE], 1)
                self.assertEqual(data[:PAGE],
                                 self.pattern[off:off + PAGE])
            s.sendall(v1_request(V1_READ, COUNTER, 4))
            counter = struct.unpack("=I", s.recv(5)[:4])[0]
            s.sendall(v1_request(V1_QUIT))
        finally:
            s.close()
        return sid, counter

    def assert_all_gone(self, baseline, timeout=10):
        ours = {sid for sid, _ in self.sockets}
        wait_for(lambda: not ours & set(self.servers()), timeout,
                 lambda: "servers left: %s" % sorted(ours &
                                                     set(self.servers())))
        for _, path in self.sockets:
            self.assertFalse(os.path.exists(path), path)
        wait_for(lambda: not self.server_threads(), timeout,
                 lambda: "pmemaccess threads left: %s"
                 % self.server_threads())
        # QEMU's own threads come and go (7.2's count once fell below
        # the baseline): every one of ours has gone, none is new
        wait_for(lambda: self.counts()[0] == baseline[0] and
                 self.counts()[1] <= baseline[1], timeout,
                 lambda: "QEMU fds, threads %s, before %s"
                 % (self.counts(), baseline))

    # --- the tests ------------------------------------------------------

    def setUp(self):
        self.sockets = []
        self.libvmi_tool(reads=1)             # warm up QEMU's lazy parts
        # A server leaves query-pmemaccess before its threads have ended:
        # the baseline is taken once they have.
        wait_for(lambda: not self.servers() and not self.server_threads(),
                 10, lambda: (self.servers(), self.server_threads()))
        self.baseline = self.counts()
        self.sockets = []

    def test_one_after_another(self):
        ids, counters = [], []
        for _ in range(20):
            sid, counter = self.libvmi_tool()
            ids.append(sid)
            counters.append(counter)
        # "pmemaccess" again once free, "pmemaccess-N" while one ends
        self.assertTrue(all(i == "pmemaccess" or i.startswith("pmemaccess-")
                            for i in ids), ids)
        self.assertGreater(counters[-1], counters[0],
                           "the guest does not run")
        self.assert_all_gone(self.baseline)

    def test_at_once(self):
        errors = []
        gate = threading.Barrier(8)

        def tool():
            try:
                gate.wait()
                self.libvmi_tool(reads=32)
            except BaseException as e:      # noqa: B902 - reported below
                errors.append(e)
        threads = [threading.Thread(target=tool) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        # 8 servers, 8 sockets ("pmemaccess" may come back once free)
        self.assertEqual(len({path for _, path in self.sockets}), 8)
        self.assert_all_gone(self.baseline)

    def test_killed_tools(self):
        procs = []
        # killed before it connected: gone after connect-timeout
        before = self.start_server()
        for how in ("idle", "half-request", "big-reply", "between-reads"):
            sid, path = self.start_server()
            p = subprocess.Popen([sys.executable, "-c", TOOL, path, how],
                                 stdout=subprocess.PIPE)
            self.assertEqual(p.stdout.readline(), b"ready\n")
            procs.append((p, sid))
        wait_for(lambda: all(self.servers().get(sid, {}).get("clients") == 1
                             for _, sid in procs), 10, self.servers)
        self.assertEqual(self.servers()[before[0]]["lifetime"],
                         "while-connected")
        for p, _ in procs:
            p.send_signal(signal.SIGKILL)
            p.wait()
            p.stdout.close()
        killed = {sid for _, sid in procs}
        wait_for(lambda: not killed & set(self.servers()), 10,
                 lambda: "killed tools' servers left: %s"
                 % sorted(killed & set(self.servers())))
        # the one that never connected is still there, then goes
        self.assertIn(before[0], self.servers())
        self.assert_all_gone(self.baseline, timeout=CONNECT_TIMEOUT + 15)

    def test_alongside_a_server_started_by_hand(self):
        path = os.path.join(self.dir, "by-hand.sock")
        with self.qmp_lock:
            reply = self.qmp.cmd("human-monitor-command",
                                 **{"command-line": "pmemaccess %s" % path})
        self.assertEqual(reply, {"return": ""})
        self.addCleanup(self.qmp.cmd, "pmemaccess-stop")
        for _ in range(3):
            sid, _ = self.libvmi_tool()
            self.assertTrue(sid.startswith("pmemaccess-"), sid)
        wait_for(lambda: set(self.servers()) == {"pmemaccess"}, 10,
                 self.servers)
        self.assertEqual(self.servers()["pmemaccess"]["lifetime"],
                         "until-stopped")
        self.assertTrue(os.path.exists(path))
        with Client(path) as c:
            self.assertEqual(c.read(PATTERN_AT, PAGE),
                             self.pattern[:PAGE])


if __name__ == "__main__":
    unittest.main()
