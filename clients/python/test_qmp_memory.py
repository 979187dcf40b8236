# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""read-guest-memory, write-guest-memory and query-vmcoreinfo without a
guest kernel, from Python (QEMU's own qtest for them is
tests/qtest/guest-memory-qmp-test.c, run by check in QEMU's harness), and
the Python client's side of pmemaccess's VMCOREINFO request.

Run: QEMU_BINARY=... python3 -m unittest -v test_qmp_memory.
"""

import base64
import os
import shutil
import subprocess
import tempfile
import unittest

from guestvm import QEMU
from pmemaccess import ENODATA, Client, ServerError
from qmptest import Qmp


class IdleQemu(unittest.TestCase):
    """A QEMU without a guest kernel, -device vmcoreinfo, writes on."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="qemu-vmi-qmpmem-")
        cls.qmp_path = os.path.join(cls.dir, "qmp.sock")
        cls.proc = subprocess.Popen([
            QEMU, "-machine", "pc", "-m", "256M", "-accel", "qtest",
            "-display", "none", "-nodefaults", "-device", "vmcoreinfo",
            "-introspection", "write=on",
            "-qmp", "unix:%s,server=on,wait=off" % cls.qmp_path],
            stdin=subprocess.DEVNULL)
        cls.qmp = Qmp(cls.qmp_path)

    @classmethod
    def tearDownClass(cls):
        cls.qmp.cmd("quit")
        cls.qmp.close()
        cls.proc.wait(10)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_round_trip(self):
        data = os.urandom(4096)
        reply = self.qmp.cmd("write-guest-memory", addr=0x100000,
                             data=base64.b64encode(data).decode())
        self.assertEqual(reply, {"return": {}})
        reply = self.qmp.cmd("read-guest-memory", addr=0x100000, size=4096)
        self.assertEqual(base64.b64decode(reply["return"]["data"]), data)
        # and as another reader sees it
        self.assertEqual(self.qmp.pmemsave(0x100000, 4096), data)

    def test_largest_write(self):
        """1 MiB, the limit, of base64 through QMP (read a byte per main
        loop iteration before the monitor read its input in chunks, this
        took 15 s; qmp-test's qmp/pipelined tests the chunks)."""
        data = os.urandom(1 << 20)
        reply = self.qmp.cmd("write-guest-memory", addr=0x100000,
                             data=base64.b64encode(data).decode())
        self.assertEqual(reply, {"return": {}})
        reply = self.qmp.cmd("read-guest-memory", addr=0x100000,
                             size=1 << 20)
        self.assertEqual(base64.b64decode(reply["return"]["data"]), data)
        self.assertEqual(self.qmp.pmemsave(0x100000, 1 << 20), data)

    def test_v2_vmcoreinfo_not_published(self):
        sock = os.path.join(self.dir, "pm.sock")
        self.assertEqual(self.qmp.cmd("pmemaccess", path=sock,
                                      lifetime="until-stopped"),
                         {"return": {"id": "pmemaccess"}})
        self.addCleanup(self.qmp.cmd, "pmemaccess-stop")
        with Client(sock) as c:
            with self.assertRaises(ServerError) as e:
                c.vmcoreinfo()
            self.assertEqual(e.exception.code, ENODATA)
            self.assertIn("qemu_fw_cfg", str(e.exception))
            # the connection goes on
            self.assertEqual(len(c.read(0x100000, 8)), 8)


if __name__ == "__main__":
    unittest.main()
