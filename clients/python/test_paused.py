# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""PAUSED batches on a running guest: one consistent instant.

A 64 KiB BIOS made here runs a real-mode loop under TCG that increments
a 32-bit counter at guest-physical 0x500 and writes memory.  A READV of
[counter, 16 MiB, counter] sees the counter move between its segments
when the guest runs; [counter, 200 KiB, counter] sees it unchanged when
the batch is PAUSED; the guest runs on afterwards.  Run: python3 -m unittest -v test_paused.
"""

import os
import shutil
import struct
import subprocess
import tempfile
import time
import unittest

from pmemaccess import Client
from qmptest import Qmp

HERE = os.path.dirname(os.path.abspath(__file__))
QEMU = os.environ.get("QEMU_BINARY", os.path.join(
    HERE, "../../build/qemu/build/qemu-system-x86_64"))
COUNTER = 0x500


def counting_bios():
    """Real mode at F000:0000: xor ax,ax; mov ds,ax; xor di,di;
    1: add dword [0x500],1; mov [di+0x1000],ax; inc di; inc di;
    and di,0x7ffe; jmp 1b -- writes 0x1000-0x8fff, never the counter
    (16-bit addresses wrap at 64 KiB)."""
    code = bytes.fromhex("31c0 8ed8 31ff 668306000501 89850010 4747"
                         " 81e7fe7f ebee".replace(" ", ""))
    bios = bytearray(64 * 1024)
    bios[:len(code)] = code
    bios[0xFFF0:0xFFF5] = bytes.fromhex("ea000000f0")   # jmp F000:0000
    return bytes(bios)


class PausedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="pmemaccess-paused-")
        bios = os.path.join(cls.dir, "bios.bin")
        with open(bios, "wb") as f:
            f.write(counting_bios())
        qmp = os.path.join(cls.dir, "qmp.sock")
        cls.qemu = subprocess.Popen([
            QEMU, "-machine", "pc", "-m", "256M", "-accel", "tcg",
            "-bios", bios, "-display", "none", "-nodefaults",
            "-qmp", "unix:%s,server=on,wait=off" % qmp])
        cls.qmp = Qmp(qmp)
        reply = cls.qmp.cmd("pmemaccess", path=os.path.join(cls.dir, "pm"))
        assert "return" in reply, reply
        cls.c = Client(os.path.join(cls.dir, "pm"))

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        cls.qmp.close()
        cls.qemu.terminate()
        cls.qemu.wait()
        shutil.rmtree(cls.dir)

    def counter(self):
        return struct.unpack("<I", self.c.read(COUNTER, 4))[0]

    def pair(self, paused):
        # a paused batch must fit in 256 KiB; an unpaused one reads 16 MiB
        # between the two counters: milliseconds in which the guest runs
        middle = 200 * 1024 if paused else 16 * 1024 * 1024
        res = self.c.readv([(COUNTER, 4), (0x100000, middle),
                            (COUNTER, 4)], paused=paused)
        self.assertTrue(all(st == 0 for st, _ in res))
        return (struct.unpack("<I", res[0][1])[0],
                struct.unpack("<I", res[2][1])[0])

    def test_guest_runs(self):
        first = self.counter()
        time.sleep(0.05)
        self.assertNotEqual(self.counter(), first)
        # the loop writes its memory, not its counter: it keeps counting
        self.assertGreater(self.counter(), 0x10000)

    def test_unpaused_batch_sees_the_guest_move(self):
        moved = sum(a != b for a, b in (self.pair(False) for _ in range(20)))
        self.assertGreater(moved, 0)

    def test_paused_batch_is_one_instant(self):
        for _ in range(20):
            a, b = self.pair(True)
            self.assertEqual(a, b)
        # and the guest was resumed
        first = self.counter()
        time.sleep(0.05)
        self.assertNotEqual(self.counter(), first)


if __name__ == "__main__":
    unittest.main()
