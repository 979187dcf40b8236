# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""A real, running guest: Debian's kernel with a busybox initramfs
(scripts/build-guest.sh), booted under TCG.  Its init prints
/proc/version on the serial console; the kernel's banner must be found
in guest RAM, byte for byte, through pmemaccess (module and CLI), while
the guest runs.  Run: python3 -m unittest -v test_guest.
"""

import os
import shutil
import subprocess
import tempfile
import time
import unittest

from pmemaccess import Client, GuestMemory
from qmptest import Qmp

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.join(HERE, "../..")
QEMU = os.environ.get("QEMU_BINARY", os.path.join(
    TOP, "build/qemu/build/qemu-system-x86_64"))
GUEST = os.environ.get("GUEST_DIR", os.path.join(TOP, "build/guest"))
CLI = os.path.join(HERE, "pmemaccess-cli")


def find_all(mem, needle, chunk=16 << 20):
    """Guest-physical addresses of @needle in GuestMemory @mem."""
    hits, pos, tail = [], 0, b""
    mem.seek(0)
    while pos < mem.size:
        data = tail + mem.read(chunk)
        base = pos - len(tail)
        i = data.find(needle)
        while i >= 0:
            hits.append(base + i)
            i = data.find(needle, i + 1)
        pos += len(data) - len(tail)
        tail = data[-(len(needle) - 1):]
    return sorted(set(hits))


class GuestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="pmemaccess-guest-")
        cls.qmp_path = os.path.join(cls.dir, "qmp.sock")
        serial = os.path.join(cls.dir, "serial.log")
        cls.qemu = subprocess.Popen([
            QEMU, "-machine", "pc,memory-backend=ram0", "-m", "512M",
            "-object", "memory-backend-memfd,id=ram0,size=512M,share=on",
            "-accel", "tcg", "-kernel", os.path.join(GUEST, "vmlinuz"),
            "-initrd", os.path.join(GUEST, "initramfs.cpio.gz"),
            "-append", "console=ttyS0 panic=-1",
            "-serial", "file:" + serial, "-display", "none", "-nodefaults",
            "-no-reboot",
            "-qmp", "unix:%s,server=on,wait=off" % cls.qmp_path])
        deadline = time.monotonic() + 120
        cls.version = None
        while time.monotonic() < deadline:
            if os.path.exists(serial):
                with open(serial, "rb") as f:
                    log = f.read()
                if b"GUEST-READY" in log:
                    line = log.split(b"GUEST-VERSION: ")[1].split(b"\n")[0]
                    cls.version = line.rstrip(b"\r")
                    break
            if cls.qemu.poll() is not None:
                break
            time.sleep(0.2)
        if cls.version is None:
            cls.tearDownClass()
            raise RuntimeError("the guest did not boot to init")
        cls.qmp = Qmp(cls.qmp_path)
        cls.pm = os.path.join(cls.dir, "pm.sock")
        for name, args in (("pmemaccess", {"path": cls.pm}),
                           ("pmemmap", {})):
            reply = cls.qmp.cmd(name, **args)
            assert "return" in reply, reply

    @classmethod
    def tearDownClass(cls):
        cls.qemu.terminate()
        cls.qemu.wait()
        shutil.rmtree(cls.dir)

    def test_banner_in_guest_ram(self):
        self.assertTrue(self.version.startswith(b"Linux version 6."))
        with Client(self.pm) as c:
            with GuestMemory(c) as mem:
                self.assertIsNotNone(mem.view)      # read via pmemmap
                hits = find_all(mem, self.version + b"\n")
            self.assertTrue(hits, "linux_banner not found in guest RAM")
            # and the socket agrees with the mapping, while the guest runs
            for addr in hits:
                self.assertEqual(c.read(addr, len(self.version)),
                                 self.version)

    def test_cli_search_finds_it(self):
        out = subprocess.run(
            [CLI, "--socket", self.pm, "search",
             self.version.decode()], capture_output=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        addrs = [int(w, 16) for w in out.stdout.split()
                 if w.startswith(b"0x")]
        self.assertTrue(addrs, out.stdout)
        with Client(self.pm) as c:
            for addr in addrs:
                self.assertEqual(c.read(addr, len(self.version)),
                                 self.version)


if __name__ == "__main__":
    unittest.main()
