# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""Tests of pmemaccess-cli against the patched QEMU.

QEMU runs with -accel qtest and memfd RAM.  Test data is written into
guest memory through a pmemaccess server that the test starts with its
own QMP call, and pmemaccess.Client.write; every subcommand is then run
as a subprocess of the script.  Run: python3 -m unittest -v test_cli
(QEMU_BINARY overrides the QEMU path).
"""

import os
import pty
import random
import re
import shutil
import stat
import struct
import subprocess
import tempfile
import time
import unittest
import uuid

import qemubuild
from pmemaccess import Client
from qmptest import Qmp

HERE = os.path.dirname(os.path.abspath(__file__))
CLI = os.path.join(HERE, "pmemaccess-cli")
QEMU = qemubuild.BINARY

DATA = 0x200000             # 8 KiB of random bytes
TEXT_AT = 0x250000          # printable text
NEEDLE_AT = 0x123456        # a unique pattern
CROSS_AT = 0x300000 - 7     # a unique pattern across a 1 MiB boundary
EDGE_AT = 0x3FFFF000        # the last RAM page below the PCI hole
PML4 = 0x10000              # PML4 -> PDPT 0x11000 -> PD 0x12000 -> PT 0x13000
TOKEN = uuid.uuid4().hex.encode()
NEEDLE = b"needle-" + TOKEN
CROSS = b"crossing-" + TOKEN
TEXT = b"Hello, VMI world! pmemaccess-cli test text."


def qmp(qmp_path, command, **arguments):
    """One QMP command on a connection of its own (QEMU serves one QMP
    client at a time, and the CLI needs the socket too)."""
    q = Qmp(qmp_path)
    try:
        return q.cmd(command, **arguments)
    finally:
        q.close()


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="pmemaccess-cli-")
        cls.qmp_path = os.path.join(cls.dir, "qmp.sock")
        cls.qemu = subprocess.Popen([
            QEMU, "-machine", "pc,memory-backend=ram0", "-m", "1G",
            "-object", "memory-backend-memfd,id=ram0,size=1G,share=on",
            "-accel", "qtest", "-qtest", "null", "-display", "none",
            "-nodefaults", "-qmp", "unix:%s,server=on,wait=off" %
            cls.qmp_path])
        try:
            cls._wait_for_qmp()
            cls.writer = os.path.join(cls.dir, "writer.sock")
            r = qmp(cls.qmp_path, "pmemaccess", path=cls.writer,
                    id="writer", write=True)
            assert "return" in r, r
            cls.data = random.Random(1).randbytes(8192)
            with Client(cls.writer) as c:
                c.write(DATA, cls.data)
                c.write(TEXT_AT, TEXT)
                c.write(NEEDLE_AT, NEEDLE)
                c.write(CROSS_AT, CROSS)
                c.write(EDGE_AT, cls.data[:4096])
                # VA 0x400000 -> DATA through a 4 KiB page (PD index 2),
                # VA 0x600000 -> DATA through a 2 MiB page (PD index 3)
                for where, entry in ((PML4, PML4 + 0x1000 | 3),
                                     (PML4 + 0x1000, PML4 + 0x2000 | 3),
                                     (PML4 + 0x2000 + 2 * 8,
                                      PML4 + 0x3000 | 3),
                                     (PML4 + 0x2000 + 3 * 8, DATA | 0x83),
                                     (PML4 + 0x3000, DATA | 3)):
                    c.write(where, struct.pack("<Q", entry))
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _wait_for_qmp(cls):
        deadline = time.monotonic() + 10
        while True:
            if cls.qemu.poll() is not None:
                raise RuntimeError("QEMU exited with %d" % cls.qemu.returncode)
            try:
                if "return" in qmp(cls.qmp_path, "query-status"):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("no QMP socket")
            time.sleep(0.02)

    @classmethod
    def tearDownClass(cls):
        cls.qemu.kill()
        cls.qemu.wait()
        shutil.rmtree(cls.dir)

    # helpers

    def cli(self, *args, rc=0):
        args = [a.decode() if isinstance(a, bytes) else str(a)
                for a in args]
        p = subprocess.run([CLI] + args,
                           capture_output=True, timeout=30)
        if rc is not None:
            self.assertEqual(p.returncode, rc, "%s\nstdout: %r\nstderr: %s"
                             % (args, p.stdout[:500], p.stderr.decode()))
        return p

    def at_writer(self, *args, rc=0):
        return self.cli("--socket", self.writer, *args, rc=rc)

    def at_qmp(self, *args, rc=0):
        return self.cli("--qmp", self.qmp_path, *args, rc=rc)

    def servers(self):
        return {s["id"]: s
                for s in qmp(self.qmp_path, "query-pmemaccess")["return"]}

    def stop_later(self, sid):
        self.addCleanup(lambda: qmp(self.qmp_path, "pmemaccess-stop", id=sid))

    # tests

    def test_help(self):
        for sub in ([], ["start"], ["stop"], ["read"], ["dump"], ["search"],
                    ["translate"], ["layout"]):
            p = self.cli(*sub, "--help")
            self.assertIn(b"usage: pmemaccess-cli", p.stdout)

    def test_start_attach_stop(self):
        default = os.path.join(self.dir, "pmemaccess.sock")
        p = self.at_qmp("start")
        self.stop_later("pmemaccess")
        self.assertEqual(p.stdout.decode(), default + "\n")
        self.assertTrue(stat.S_ISSOCK(os.stat(default).st_mode))
        self.assertFalse(self.servers()["pmemaccess"]["write"])
        # a second start attaches
        p = self.at_qmp("start")
        self.assertEqual(p.stdout.decode(), default + "\n")
        self.assertIn(b"attached", p.stderr)
        p = self.at_qmp("start", "--write")         # cannot change it
        self.assertIn(b"read-only", p.stderr)
        # memory commands with --qmp use the running server
        p = self.at_qmp("read", DATA, 16, "--raw")
        self.assertEqual(p.stdout, self.data[:16])
        self.assertEqual(self.servers()["pmemaccess"]["connections"], 1)
        self.at_qmp("stop")
        self.assertNotIn("pmemaccess", self.servers())
        self.assertFalse(os.path.exists(default))
        p = self.at_qmp("stop", rc=1)
        self.assertIn(b"No pmemaccess server", p.stderr)

    def test_start_with_options_and_map(self):
        path = os.path.join(self.dir, "custom.sock")
        p = self.cli("start", "--qmp", self.qmp_path, "--id", "custom",
                     "--path", path, "--write", "--map", "live")
        self.stop_later("custom")
        self.assertEqual(p.stdout.decode(), path + "\n")
        self.assertTrue(self.servers()["custom"]["write"])
        out = self.cli("--socket", path, "layout").stdout.decode()
        self.assertIn("pmemmap: live, read-only, generation", out)
        self.assertRegex(out, r"(?m)^  0x0+-0x0*bffff +768 KiB  RAM  "
                              r"block ram0 +fd 0 offset 0x0$")
        self.assertRegex(out, r"(?m)ROM  block pc\.bios +no fd")
        # search and dump go through the mapping
        p = self.cli("--socket", path, "search", NEEDLE,
                     "--start", "1M", "--end", "2M")
        self.assertEqual(p.stdout.decode(), "%#x\n" % NEEDLE_AT)
        dump = os.path.join(self.dir, "mapped.dump")
        self.cli("--socket", path, "dump", DATA, "8K", dump)
        with open(dump, "rb") as f:
            self.assertEqual(f.read(), self.data)
        self.cli("--qmp", self.qmp_path, "--id", "custom", "stop")
        self.assertNotIn("custom", self.servers())

    def test_temporary_server(self):
        self.assertNotIn("pmemaccess", self.servers())
        p = self.at_qmp("read", DATA + 16, 16, "--raw")
        self.assertEqual(p.stdout, self.data[16:32])
        self.assertEqual(list(self.servers()), ["writer"])
        # an --id that does not run is an error, not a temporary server
        p = self.at_qmp("--id", "nosuch", "layout", rc=2)
        self.assertIn(b"no pmemaccess server 'nosuch'", p.stderr)

    def test_read_hexdump(self):
        out = self.at_writer("read", DATA, 64).stdout.decode()
        lines = out.splitlines()
        self.assertEqual(len(lines), 4)
        got = b""
        for i, line in enumerate(lines):
            m = re.fullmatch(r"([0-9a-f]{8,})  (.{49}) \|(.{1,16})\|", line)
            self.assertTrue(m, line)
            self.assertEqual(int(m.group(1), 16), DATA + 16 * i)
            got += bytes.fromhex(m.group(2))
        self.assertEqual(got, self.data[:64])
        out = self.at_writer("read", TEXT_AT, len(TEXT)).stdout.decode()
        self.assertIn("|Hello, VMI world|", out)
        self.assertIn("48 65 6c 6c 6f 2c 20 56  4d 49", out)
        self.assertRegex(out.splitlines()[-1], r"  \| test text\.\|$")

    def test_read_raw(self):
        p = self.at_writer("read", "0x200000", "8K", "--raw")
        self.assertEqual(p.stdout, self.data)
        p = self.at_writer("read", str(DATA + 5), "3", "--raw")
        self.assertEqual(p.stdout, self.data[5:8])

    def test_read_virtual(self):
        p = self.at_writer("read", "0x400010", 32, "--virtual",
                           "--root", PML4, "--raw")
        self.assertEqual(p.stdout, self.data[0x10:0x30])
        p = self.at_writer("read", "0x601000", 16, "--virtual",
                           "--root", PML4)
        self.assertTrue(p.stdout.startswith(b"00601000  "))
        self.assertIn(self.data[0x1000:0x1008].hex(" ").encode(), p.stdout)
        p = self.at_writer("read", "0x402000", 16, "--virtual",
                           "--root", PML4, rc=1)
        self.assertIn(b"EFAULT", p.stderr)
        self.assertIn(b"translate", p.stderr)

    def test_dump(self):
        out = os.path.join(self.dir, "data.dump")
        p = self.at_writer("dump", DATA, "8K", out)
        self.assertEqual(p.stderr, b"")             # not a tty: quiet
        with open(out, "rb") as f:
            self.assertEqual(f.read(), self.data)

    def test_dump_holes(self):
        out = os.path.join(self.dir, "edge.dump")
        p = self.at_writer("dump", EDGE_AT, "0x2000", out)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), self.data[:4096] + bytes(4096))
        self.assertIn(b"0x40000000-0x40000fff (4 KiB)", p.stderr)
        self.assertIn(b"zeros", p.stderr)

    def test_dump_progress_on_tty(self):
        out = os.path.join(self.dir, "tty.dump")
        master, slave = pty.openpty()
        with subprocess.Popen([CLI, "--socket", self.writer, "dump", "1M",
                               "40M", out], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL,
                              stderr=slave) as p:
            os.close(slave)
            shown = b""
            while True:
                try:
                    piece = os.read(master, 4096)
                except OSError:             # EIO: the slave is closed
                    break
                if not piece:
                    break
                shown += piece
            os.close(master)
        self.assertEqual(p.returncode, 0, shown)
        self.assertIn(b"100%", shown)
        self.assertRegex(shown, rb"\[#{30}\] 100%  40 MiB / 40 MiB  "
                                rb"[0-9.]+ [KMG]iB/s")
        self.assertEqual(os.path.getsize(out), 40 << 20)
        # the bytes, against QEMU's own pmemsave of the same range
        ref = os.path.join(self.dir, "tty.pmemsave")
        r = qmp(self.qmp_path, "pmemsave", val=1 << 20, size=40 << 20,
                filename=ref)
        self.assertIn("return", r)
        with open(out, "rb") as a, open(ref, "rb") as b:
            self.assertTrue(a.read() == b.read(), "dump differs from pmemsave")

    def test_search(self):
        p = self.at_writer("search", NEEDLE, "--start", "1M", "--end", "2M")
        self.assertEqual(p.stdout.decode(), "%#x\n" % NEEDLE_AT)
        p = self.at_writer("search", "--hex", NEEDLE.hex(" "),
                           "--start", "0x100000", "--end", "0x200000")
        self.assertEqual(p.stdout.decode(), "%#x\n" % NEEDLE_AT)
        # default range (from 0), stopping at the first match
        p = self.at_writer("search", NEEDLE, "--max-count", 1)
        self.assertEqual(p.stdout.decode(), "%#x\n" % NEEDLE_AT)
        # across the 1 MiB boundary at 0x300000 (a window boundary)
        p = self.at_writer("search", CROSS, "--start", "0x280000",
                           "--end", "0x380000")
        self.assertEqual(p.stdout.decode(), "%#x\n" % CROSS_AT)
        p = self.at_writer("search", CROSS[-12:], "--chunk", "4K",
                           "--start", "0x2fe000", "--end", "0x302000")
        self.assertEqual(p.stdout.decode(), "%#x\n" %
                         (CROSS_AT + len(CROSS) - 12))
        # every match, in order, overlapping ones included
        p = self.at_writer("search", "--hex", self.data[:2].hex(),
                           "--start", DATA, "--end", DATA + 8192)
        expect = [DATA + m.start() for m in re.finditer(
            b"(?=" + re.escape(self.data[:2]) + b")", self.data)]
        self.assertEqual(p.stdout.decode().split(),
                         ["%#x" % a for a in expect])
        p = self.at_writer("search", "nothing-" + TOKEN.decode(),
                           "--start", "1M", "--end", "4M")
        self.assertEqual(p.stdout, b"")
        self.assertIn(b"no match", p.stderr)
        self.at_writer("search", "--hex", "xyz", rc=2)

    def test_translate(self):
        out = self.at_writer("translate", "0x400123", "--root",
                             PML4).stdout.decode()
        self.assertIn("physical 0x200123  (4 KiB page at 0x200000)", out)
        levels = [line.split()[0] for line in out.splitlines()[1:5]]
        self.assertEqual(levels, ["PML4", "PDPT", "PD", "PT"])
        self.assertRegex(out, r"PD   \[  2\] @ 0x0+12010 = "
                              r"0x0+13003  P RW\n")
        out = self.at_writer("translate", "0x400000", "--root",
                             PML4 | 0x5).stdout.decode()     # PCID bits
        self.assertIn("physical 0x200000  ", out)
        out = self.at_writer("translate", "0x600010", "--root",
                             PML4).stdout.decode()
        self.assertIn("P RW PS", out)
        self.assertIn("physical 0x200010  (2 MiB page at 0x200000)", out)
        self.assertNotRegex(out, r"(?m)^PT ")
        p = self.at_writer("translate", "0x402000", "--root", PML4, rc=1)
        self.assertIn(b"not present", p.stdout)
        self.assertIn(b"PT entry is not present", p.stderr)
        p = self.at_writer("translate", "0x800000000000", "--root", PML4,
                           rc=1)
        self.assertIn(b"not canonical", p.stderr)
        self.at_writer("translate", "0xffff800000000000", "--root", PML4,
                       rc=1)                # canonical, PML4[256] empty
        p = self.at_writer("translate", "0x1000", "--root", "0xfee00000",
                           rc=1)
        self.assertIn(b"not RAM", p.stderr)

    def test_layout(self):
        out = self.at_writer("layout").stdout.decode()
        self.assertRegex(out, r"(?m)^  0x0000000000000000-0x00000000000bffff"
                              r" +768 KiB  RAM$")
        self.assertRegex(out, r"(?m)^  0x0000000000100000-0x000000003fffffff"
                              r" +1023 MiB  RAM$")
        self.assertIn("ROM", out)
        self.assertIn("server writable", out)
        self.assertIn("pmemmap: not offered", out)

    def test_errors(self):
        p = self.at_writer("read", "0xfee00000", 16, rc=1)
        self.assertIn(b"not RAM", p.stderr)
        self.assertIn(b"layout", p.stderr)
        self.assertEqual(p.stdout, b"")
        p = self.cli("--socket", os.path.join(self.dir, "nothing.sock"),
                     "read", 0, 16, rc=2)
        self.assertIn(b"is pmemaccess running", p.stderr)
        p = self.cli("--qmp", os.path.join(self.dir, "nothing.sock"),
                     "layout", rc=2)
        self.assertIn(b"-qmp unix:", p.stderr)
        self.assertIn(b"--socket", p.stderr)
        self.cli("read", 0, 16, rc=2)                   # no connection
        self.cli("--qmp", self.qmp_path, "--socket", self.writer,
                 "layout", rc=2)                        # both
        p = self.at_writer("read", "0xzz", 16, rc=2)
        self.assertIn(b"invalid number", p.stderr)
        p = self.at_writer("start", rc=2)
        self.assertIn(b"start needs --qmp", p.stderr)
        self.at_writer("read", "0x400000", 16, "--virtual", rc=2)
        self.at_writer("read", "0x400000", 16, "--root", PML4, rc=2)
        self.at_writer("read", "0xffffffffffffff00", "1K", rc=2)  # wraps

    def test_numbers(self):
        for text, value in (("0x2000", 8192), ("8192", 8192), ("8K", 8192),
                            ("8k", 8192), ("8KiB", 8192), ("0x2K", 2048),
                            ("8_192", 8192), ("1m", 1 << 20)):
            p = self.at_writer("read", DATA, text, "--raw")
            self.assertEqual(len(p.stdout), value, text)
        self.assertEqual(p.stdout[:8192], self.data)
        for bad in ("-1", "1Q", "0x", "1B", "0x10000000000000000"):
            p = self.at_writer("read", DATA, bad, rc=2)
            self.assertIn(bad.encode(), p.stderr)

if __name__ == "__main__":
    unittest.main()
