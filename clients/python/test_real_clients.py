# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""End to end, with the programs users drive QEMU with, against a running
Debian guest (guestvm.GuestVM) with 4.5 GiB of RAM:

- HMP over telnet: Debian's telnet, on a pty, types pmemaccess, info
  pmemaccess, pmemmap and a pmemsave of 5.5 GiB;
- QEMU's own scripts/qmp/qmp-shell, on a pty, drives the QMP commands;
- libvirt-style fd passing: we create and bind the socket, pass it with
  getfd (SCM_RIGHTS on the QMP socket), and QEMU serves on it;
- a moving guest: vmi-counter's counters advance under our reads, and a
  paused batch sees both at one instant.

Run: python3 -m unittest -v test_real_clients.
"""

import os
import re
import shutil
import socket
import stat
import struct
import tempfile
import time
import unittest

import qemubuild
from guestvm import GuestVM, find_counters
from pmemaccess import Client, GuestMemory, ServerError
from ptyexpect import PtySession, QmpShell

QEMU_TREE = qemubuild.TREE

MEM = "4608M"                   # pc: 3 GiB below 4 GiB, 1.5 GiB above
RAM_END = 0x160000000
RESERVED = RAM_END - (1 << 20)  # kept from the guest kernel: memmap=
HMP_PROMPT = r"\(qemu\) "
BIOS = "/usr/share/seabios/bios-256k.bin"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RealClientsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="qemu-vmi-e2e-")
        cls.port = free_port()
        cls.shell_qmp = os.path.join(cls.tmp, "shell-qmp.sock")
        cls.vm = GuestVM(mem=MEM, append="memmap=1M$%#x" % RESERVED,
                         extra_args=[
                             "-monitor", "telnet:127.0.0.1:%d,server=on,"
                             "wait=off" % cls.port,
                             "-qmp", "unix:%s,server=on,wait=off"
                             % cls.shell_qmp])

    @classmethod
    def tearDownClass(cls):
        cls.vm.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def test_hmp_over_telnet(self):
        sock, dump = self.path("telnet.sock"), self.path("all.bin")
        telnet = PtySession(["telnet", "127.0.0.1", str(self.port)])
        self.addCleanup(telnet.close)
        telnet.expect(HMP_PROMPT)

        telnet.send("pmemaccess -w %s telnet" % sock)
        telnet.expect(HMP_PROMPT)
        self.assertTrue(stat.S_ISSOCK(os.stat(sock).st_mode))
        telnet.send("info pmemaccess")
        info = telnet.expect(HMP_PROMPT)
        self.assertRegex(info, r"telnet.*%s" % re.escape(sock))
        self.assertIn("write", info)

        pattern = os.urandom(1 << 16)
        with Client(sock) as c:
            c.write(RESERVED, pattern)
            self.assertEqual(c.read(RESERVED, len(pattern)), pattern)
            bios = c.read(0xf0000, 0x10000)

        telnet.send("pmemmap telnet")
        layout = telnet.expect(HMP_PROMPT)
        self.assertIn("generation", layout)
        self.assertRegex(layout, r"0000000100000000-000000015fffffff ram")

        # more than 4 GiB through HMP, as "0x..." and with a suffix
        telnet.send('pmemsave 0 %#x "%s"' % (RAM_END, dump))
        out = telnet.expect(HMP_PROMPT, timeout=300)
        self.assertNotIn("32-bit", out)
        self.assertNotIn("rror", out)
        self.assertEqual(os.path.getsize(dump), RAM_END)
        with open(dump, "rb") as f:
            f.seek(RESERVED)
            self.assertEqual(f.read(len(pattern)), pattern)
            f.seek(0xf0000)
            self.assertEqual(f.read(0x10000), bios)
        os.unlink(dump)
        telnet.send('pmemsave 4G 1536M "%s"' % dump)
        telnet.expect(HMP_PROMPT, timeout=300)
        with open(dump, "rb") as f:
            f.seek(RESERVED - (4 << 30))
            self.assertEqual(f.read(len(pattern)), pattern)
        os.unlink(dump)

        telnet.send("pmemunmap telnet")
        telnet.expect(HMP_PROMPT)
        telnet.send("pmemaccess-stop telnet")
        telnet.expect(HMP_PROMPT)
        telnet.send("info pmemaccess")
        self.assertNotIn(sock, telnet.expect(HMP_PROMPT))
        self.assertFalse(os.path.exists(sock))

    def test_qmp_shell(self):
        sock = self.path("shell.sock")
        shell = QmpShell(QEMU_TREE, self.shell_qmp)
        self.addCleanup(shell.close)
        run = shell.run

        self.assertIn('{"return": {"id": "shell"}}',
                      run("pmemaccess path=%s id=shell" % sock))
        info = run("query-pmemaccess")
        self.assertIn('"id": "shell"', info)
        self.assertIn(sock, info)
        reply = run("pmemaccess path=%s id=shell" % sock)
        self.assertIn('"error"', reply)
        self.assertIn("pmemaccess server 'shell' already exists", reply)
        reply = run("pmemaccess path=%s-x max-clients=0" % sock)
        self.assertIn('"error"', reply)
        self.assertIn("'max-clients' must be between 1 and 1024", reply)
        mapped = run("pmemmap server=shell")
        self.assertIn('"generation"', mapped)
        self.assertIn('"protection": "read-only-fd"', mapped)
        with Client(sock) as c, GuestMemory(c) as mem:
            self.assertIsNotNone(mem.view)
            mem.seek(0xf0000)
            self.assertEqual(mem.read(16), c.read(0xf0000, 16))
        self.assertIn('{"return": {}}', run("pmemunmap server=shell"))
        self.assertIn('{"return": {}}', run("pmemaccess-stop id=shell"))
        self.assertNotIn('"id": "shell"', run("query-pmemaccess"))

    def test_qmp_shell_after_hmp(self):
        """A server started over HMP, then LibVMI's form in qmp-shell:
        both run, each under its own name, until the QMP one's client
        has gone."""
        by_hand, shell_sock = self.path("hmp.sock"), self.path("q.sock")
        telnet = PtySession(["telnet", "127.0.0.1", str(self.port)])
        self.addCleanup(telnet.close)
        telnet.expect(HMP_PROMPT)
        telnet.send("pmemaccess %s" % by_hand)
        self.assertNotIn("rror", telnet.expect(HMP_PROMPT))
        self.addCleanup(self.vm.qmp.cmd, "pmemaccess-stop")

        shell = QmpShell(QEMU_TREE, self.shell_qmp)
        self.addCleanup(shell.close)
        reply = shell.run("pmemaccess path=%s" % shell_sock)
        sid = re.search(r'"id": "(pmemaccess-\d+)"', reply)
        self.assertIsNotNone(sid, reply)
        sid = sid.group(1)
        servers = {s["id"]: s for s in
                   self.vm.qmp.cmd("query-pmemaccess")["return"]}
        self.assertEqual(servers["pmemaccess"]["lifetime"], "until-stopped")
        self.assertEqual(servers["pmemaccess"]["addr"]["path"], by_hand)
        self.assertEqual(servers[sid]["lifetime"], "while-connected")
        self.assertEqual(servers[sid]["addr"]["path"], shell_sock)
        telnet.send("info pmemaccess")
        info = telnet.expect(HMP_PROMPT)
        self.assertRegex(info, r"pmemaccess: unix:%s write=off "
                         r"lifetime=until-stopped" % re.escape(by_hand))
        self.assertRegex(info, r"%s: unix:%s write=off "
                         r"lifetime=while-connected"
                         % (sid, re.escape(shell_sock)))

        with Client(shell_sock) as c, Client(by_hand) as h:
            self.assertEqual(c.read(0xf0000, 64), h.read(0xf0000, 64))
        deadline = time.monotonic() + 10
        while '"id": "%s"' % sid in shell.run("query-pmemaccess"):
            self.assertLess(time.monotonic(), deadline, "still running")
            time.sleep(0.1)
        self.assertFalse(os.path.exists(shell_sock))
        self.assertTrue(stat.S_ISSOCK(os.stat(by_hand).st_mode))

    def test_fd_passing(self):
        before = set(os.listdir(self.tmp))
        path = self.path("ours.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(listener.close)
        listener.bind(path)
        listener.listen()
        qmp = self.vm.qmp
        self.assertEqual(qmp.getfd("vmi", listener.fileno()), {"return": {}})
        reply = qmp.cmd("pmemaccess", id="passed",
                        addr={"type": "fd", "str": "vmi"})
        self.assertEqual(reply, {"return": {"id": "passed"}})
        self.addCleanup(qmp.cmd, "pmemaccess-stop", id="passed")

        # QEMU serves on our socket: same inode among its fds, no file
        ino = os.fstat(listener.fileno()).st_ino
        fd_dir = "/proc/%d/fd" % self.vm.process.pid
        links = [os.readlink(os.path.join(fd_dir, f))
                 for f in os.listdir(fd_dir)]
        self.assertIn("socket:[%d]" % ino, links)
        self.assertEqual(set(os.listdir(self.tmp)), before | {"ours.sock"})
        with Client(path) as c:
            # the reset vector: the last bytes of Debian's SeaBIOS, as ROM
            with open(BIOS, "rb") as f:
                f.seek(-16, os.SEEK_END)
                self.assertEqual(c.read(0xfffffff0, 16), f.read())
        reply = qmp.cmd("pmemaccess-stop", id="passed")
        self.assertEqual(reply, {"return": {}})
        self.assertTrue(os.path.exists(path), "QEMU unlinked our socket")

    def test_running_guest_counters(self):
        sock = self.path("counters.sock")
        qmp = self.vm.qmp
        self.assertEqual(qmp.cmd("pmemaccess", path=sock, id="counters"),
                         {"return": {"id": "counters"}})
        self.addCleanup(qmp.cmd, "pmemaccess-stop", id="counters")
        pid = next(p for p, c in self.vm.ps().items() if c == "vmi-counter")
        with Client(sock) as c, GuestMemory(c) as mem:
            a, b = find_counters(mem, pid)
            u64 = lambda data: struct.unpack("<Q", data)[0]  # noqa: E731
            # single reads of a running guest: coherent, advancing
            # (at least 50 reads 10 ms apart, until 11 of them saw it
            # advance or 60 s passed)
            last = u64(c.read(a, 8))
            advanced = reads = 0
            deadline = time.monotonic() + 60
            while (reads < 50 or advanced <= 10) and \
                    time.monotonic() < deadline:
                time.sleep(0.01)
                now = u64(c.read(a, 8))
                self.assertGreaterEqual(now, last)
                advanced += now > last
                reads += 1
                last = now
            self.assertGreater(advanced, 10)
            # the same batch, A, 200 KiB of RAM, B: unpaused, the guest
            # moves while it is read (the control: within 30 s, one batch
            # sees B ahead of A) ...
            segs = [(a, 8), (0x100000, 200 << 10), (b, 8)]

            def batch(paused):
                res = c.readv(segs, paused=paused)
                self.assertEqual([st for st, _ in res], [0, 0, 0])
                return u64(res[0][1]), u64(res[2][1])
            deadline = time.monotonic() + 30
            while True:
                va, vb = batch(False)
                if va - vb not in (0, 1):
                    break
                self.assertLess(time.monotonic(), deadline,
                                "unpaused batches never saw the guest move")
            # ... paused, both counters at one instant each time, and the
            # guest moving on between batches (at least 100 batches, until
            # they saw 11 different instants or 60 s passed)
            seen = set()
            deadline = time.monotonic() + 60
            while len(seen) <= 10:
                for _ in range(100):
                    va, vb = batch(True)
                    self.assertIn(va - vb, (0, 1), "A=%d B=%d" % (va, vb))
                    seen.add(va)
                if time.monotonic() > deadline:
                    break
            self.assertGreater(len(seen), 10)
            status = self.vm.qmp.cmd("query-status")["return"]
            self.assertEqual(status["status"], "running")
            # and the guest's own view moved on too
            with self.assertRaises(ServerError):
                c.read(RAM_END, 8)          # past the end of RAM


if __name__ == "__main__":
    unittest.main()
