# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""Tests of the pmemaccess Python module against the patched QEMU.

QEMU runs with -accel qtest and memfd RAM.  Data is written through the
module and checked through independent paths (QMP pmemsave, the
mapping, a second connection).  Run: python3 -m unittest -v
test_pmemaccess (QEMU_BINARY overrides the QEMU path).
"""

import io
import os
import shutil
import struct
import subprocess
import tempfile
import unittest

import qemubuild
import pmemaccess
from pmemaccess import Client, GuestMemory, ServerError
from qmptest import Qmp

QEMU = qemubuild.BINARY
DATA = 0x200000
PML4 = 0x10000


class ModuleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="pmemaccess-py-")
        qmp = os.path.join(cls.dir, "qmp.sock")
        cls.qemu = subprocess.Popen([
            QEMU, "-machine", "pc,memory-backend=ram0", "-m", "1G",
            "-object", "memory-backend-memfd,id=ram0,size=1G,share=on",
            "-accel", "qtest", "-qtest", "null", "-display", "none",
            "-nodefaults", "-qmp", "unix:%s,server=on,wait=off" % qmp])
        cls.qmp = Qmp(qmp)
        cls.path = os.path.join(cls.dir, "pm.sock")
        r = cls.qmp.cmd("pmemaccess", path=cls.path, write=True,
                        lifetime="until-stopped")
        assert "return" in r, r
        cls.data = bytes((i * 131 + 7) & 0xFF for i in range(8192))
        with Client(cls.path) as c:
            c.write(DATA, cls.data)
            # VA 0x400000 -> DATA through a 4 KiB page (PD index 2)
            for table, pte in ((PML4, PML4 + 0x1000), (PML4 + 0x1000,
                               PML4 + 0x2000), (PML4 + 0x2000 + 16,
                               PML4 + 0x3000), (PML4 + 0x3000, DATA)):
                c.write(table, struct.pack("<Q", pte | 3))

    @classmethod
    def tearDownClass(cls):
        cls.qmp.close()
        cls.qemu.terminate()
        cls.qemu.wait()
        shutil.rmtree(cls.dir)

    def setUp(self):
        self.c = Client(self.path)

    def tearDown(self):
        self.c.close()

    def test_hello(self):
        self.assertTrue(self.c.can_write)
        self.assertEqual(self.c.max_segments, 4096)
        self.assertEqual(self.c.layout[0].start, 0)
        self.assertFalse(self.c.layout[0].rom)
        self.assertTrue(any(r.rom for r in self.c.layout))
        self.assertEqual(self.c.ram_size,
                         sum(r.length for r in self.c.layout if not r.rom))
        self.assertEqual(self.c.current_layout(), self.c.layout)

    def test_read_matches_pmemsave(self):
        out = os.path.join(self.dir, "save")
        self.qmp.cmd("pmemsave", val=DATA, size=4096, filename=out)
        with open(out, "rb") as f:
            saved = f.read()
        self.assertEqual(saved, self.data[:4096])
        self.assertEqual(self.c.read(DATA, 4096), saved)

    def test_virtual(self):
        self.assertEqual(self.c.read(0x400010, 32, root=PML4),
                         self.data[0x10:0x30])
        with self.assertRaises(ServerError) as e:
            self.c.read(0x402000, 8, root=PML4)
        self.assertEqual(e.exception.code, pmemaccess.EFAULT)
        self.assertEqual(e.exception.address, 0x402000)

    def test_errors_keep_the_connection(self):
        with self.assertRaises(ServerError) as e:
            self.c.read(0xFEE00000, 8)
        self.assertEqual(e.exception.name, "ENOTRAM")
        self.assertIn("0xfee00000", str(e.exception))
        self.assertEqual(self.c.read(DATA, 8), self.data[:8])

    def test_readv_paused(self):
        # accepted, statuses and data: the pause itself needs a running
        # guest (-accel qtest has none), see test_paused.py
        res = self.c.readv([(DATA + 8, 8), (0xFEE00000, 4),
                            (DATA + 4096, 16)], paused=True)
        self.assertEqual(res[0], (0, self.data[8:16]))
        self.assertEqual(res[1], (pmemaccess.ENOTRAM, None))
        self.assertEqual(res[2], (0, self.data[4096:4112]))

    def test_write_seen_elsewhere(self):
        self.c.write(DATA + 6000, b"written")
        with Client(self.path) as other:
            self.assertEqual(other.read(DATA + 6000, 7), b"written")
        # and by a reader that is not pmemaccess
        self.assertEqual(self.qmp.pmemsave(DATA + 6000, 7), b"written")
        self.c.write(DATA + 6000, self.data[6000:6007])

    def test_map_and_guest_memory(self):
        with self.assertRaises(ServerError) as e:
            self.c.map()
        self.assertEqual(e.exception.code, pmemaccess.ENOMAP)
        # without a map, GuestMemory reads through the socket
        mem = GuestMemory(self.c)
        self.assertIsNone(mem.view)
        mem.seek(DATA)
        self.assertEqual(mem.read(64), self.data[:64])
        mem.seek(0xFEE00000)
        self.assertEqual(mem.read(16), bytes(16))      # a hole: zeros

        self.assertIn("return", self.qmp.cmd("pmemmap"))
        try:
            with self.c.map() as view:
                self.assertFalse(view.writable)
                self.assertEqual(view.generation, self.c.generation())
                mv = view.gpa(DATA, 64)
                self.assertEqual(bytes(mv), self.data[:64])
                self.c.write(DATA, b"live!")
                self.assertEqual(bytes(mv[:5]), b"live!")
                self.c.write(DATA, self.data[:5])
                self.assertIsNone(view.gpa(0xFEE00000, 4))
                del mv
            mem = GuestMemory(self.c)
            self.assertIsNotNone(mem.view)
            mem.seek(DATA + 100)
            self.assertEqual(mem.read(1000), self.data[100:1100])
            self.assertEqual(io.BufferedReader(mem).read(10),
                             self.data[1100:1110])
            mem.close()
        finally:
            self.qmp.cmd("pmemunmap")

    def test_connect_failure(self):
        with self.assertRaises(pmemaccess.PmemError) as e:
            Client(os.path.join(self.dir, "nothing.sock"))
        self.assertIn("is pmemaccess running", str(e.exception))


if __name__ == "__main__":
    unittest.main()
