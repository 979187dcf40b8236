# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""A running guest read from outside, under TCG and under KVM.

A 64 KiB BIOS made here runs a real-mode loop that increments a 32-bit
counter at guest-physical 0x500 and writes memory.  While its vCPU runs:
reads see the counter move; the same READV [counter, 200 KiB, counter]
sees the counter move between its segments when unpaused and never when
PAUSED (like for like: same segments, same size); a value written
through the socket into a mailbox the guest copies is what the guest
copies; the guest runs on afterwards.

The KVM class needs a usable /dev/kvm (on the project's machines it is
PVM-based: BIOS-level guests such as this one run, Linux does not); where
KVM cannot run, it is skipped with the reason, which ./check prints.
Run: python3 -m unittest -v test_paused.
"""

import os
import shutil
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import qemubuild
from pmemaccess import Client
from qmptest import Qmp

QEMU = qemubuild.BINARY
COUNTER = 0x500
MAILBOX, MAILBOX_COPY = 0x600, 0x604
PAIRS = 50
CONTROL_SECONDS = 10         # the unpaused control stops at the first move
MIDDLE = 200 * 1024          # a paused request must fit in 256 KiB


def counting_bios():
    """Real mode at F000:0000: xor ax,ax; mov ds,ax; xor di,di;
    1: add dword [0x500],1; mov edx,[0x600]; mov [0x604],edx;
    mov [di+0x1000],ax; inc di; inc di; and di,0x7ffe; jmp 1b -- counts,
    copies the mailbox at 0x600 to 0x604, and writes 0x1000-0x8fff
    (16-bit addresses wrap at 64 KiB)."""
    code = bytes.fromhex("31c0 8ed8 31ff 668306000501 668b160006"
                         " 6689160406 89850010 4747 81e7fe7f ebe4"
                         .replace(" ", ""))
    bios = bytearray(64 * 1024)
    bios[:len(code)] = code
    bios[0xFFF0:0xFFF5] = bytes.fromhex("ea000000f0")   # jmp F000:0000
    return bytes(bios)


RESETS = 0x700


def resetting_bios():
    """Real mode at F000:0000: xor ax,ax; mov ds,ax; add dword [0x700],1;
    mov cx,0x1000; 1: add dword [0x500],1; loop 1b; mov al,6;
    mov dx,0xcf9; out dx,al -- counts its boots at 0x700 (RAM survives a
    reset), counts to 4096 at 0x500, then resets the machine through the
    PIIX3 reset register, forever."""
    code = bytes.fromhex("31c0 8ed8 668306000701 b90010 668306000501 e2f8"
                         " b006 baf90c ee ebfe".replace(" ", ""))
    bios = bytearray(64 * 1024)
    bios[:len(code)] = code
    bios[0xFFF0:0xFFF5] = bytes.fromhex("ea000000f0")   # jmp F000:0000
    return bytes(bios)


def kvm_unavailable():
    """Why KVM cannot run here, or None."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError as e:
        return "/dev/kvm: %s" % e.strerror
    os.close(fd)
    return None


class GuestWithBios:
    """Mixin: one QEMU per class running BIOS() with ACCEL."""
    ACCEL = None
    CPU = None
    BIOS = staticmethod(counting_bios)

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="pmemaccess-running-")
        bios = os.path.join(cls.dir, "bios.bin")
        with open(bios, "wb") as f:
            f.write(cls.BIOS())
        qmp = os.path.join(cls.dir, "qmp.sock")
        args = [QEMU, "-machine", "pc", "-m", "256M", "-accel", cls.ACCEL,
                "-bios", bios, "-display", "none", "-nodefaults",
                "-qmp", "unix:%s,server=on,wait=off" % qmp]
        if cls.CPU:
            args += ["-cpu", cls.CPU]
        cls.qemu = subprocess.Popen(args, stderr=subprocess.PIPE)
        try:
            cls.qmp = Qmp(qmp)
        except OSError:
            err = cls.qemu.communicate(timeout=30)[1].decode(errors="replace")
            shutil.rmtree(cls.dir)
            raise unittest.SkipTest("QEMU does not start with -accel %s: %s"
                                    % (cls.ACCEL, err.strip()))
        reply = cls.qmp.cmd("pmemaccess", path=os.path.join(cls.dir, "pm"),
                            write=True, lifetime="until-stopped")
        assert "return" in reply, reply
        cls.c = Client(os.path.join(cls.dir, "pm"))

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        cls.qmp.close()
        cls.qemu.terminate()
        try:
            cls.qemu.communicate(timeout=30)
        except subprocess.TimeoutExpired:   # its main loop hung
            cls.qemu.kill()
            cls.qemu.communicate()
        shutil.rmtree(cls.dir)

    def counter(self):
        return struct.unpack("<I", self.c.read(COUNTER, 4))[0]

    def wait_for_progress(self, since, timeout=10):
        """Wait until the counter is no longer @since; fail at @timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.counter() != since:
                return
            time.sleep(0.001)
        self.fail("the guest's counter stayed at %#x for %d s" %
                  (since, timeout))


class RunningGuest(GuestWithBios):
    """Mixin: the tests on the counting BIOS."""

    def pairs_that_moved(self, paused, pairs, seconds=None):
        """How many of @pairs READVs saw the counter move between their
        first and last segment; with @seconds, go on for that long instead
        and stop at the first that did."""
        moved = 0
        deadline = time.monotonic() + (seconds or 0)
        while pairs > 0 or (seconds and time.monotonic() < deadline):
            pairs -= 1
            res = self.c.readv([(COUNTER, 4), (0x100000, MIDDLE),
                                (COUNTER, 4)], paused=paused)
            self.assertEqual([st for st, _ in res], [0, 0, 0])
            a = struct.unpack("<I", res[0][1])[0]
            b = struct.unpack("<I", res[2][1])[0]
            moved += a != b
            if seconds and moved:
                break
        return moved

    def test_accelerator(self):
        if self.ACCEL == "kvm":
            reply = self.qmp.cmd("query-kvm")["return"]
            self.assertEqual(reply, {"enabled": True, "present": True})

    def test_guest_runs(self):
        self.wait_for_progress(self.counter())

    def test_paused_batch_is_one_instant(self):
        # the control: the same batch unpaused sees the guest move (while
        # the vCPU thread is descheduled, a batch may miss it)
        self.assertEqual(self.pairs_that_moved(False, 0, CONTROL_SECONDS), 1)
        self.assertEqual(self.pairs_that_moved(True, PAIRS), 0)
        # and the guest was resumed
        self.wait_for_progress(self.counter())

    def test_write_seen_by_guest(self):
        # the guest copies the mailbox to the word after it: it saw the
        # write when the copy holds the value written
        for value in (0x5EED0001, 0xC0FFEE02):
            self.c.write(MAILBOX, struct.pack("<I", value))
            deadline = time.monotonic() + 10
            while self.c.read(MAILBOX_COPY, 4) != struct.pack("<I", value):
                self.assertLess(time.monotonic(), deadline,
                                "the guest did not copy %#x" % value)
                time.sleep(0.001)


class ResettingGuest(GuestWithBios):
    """Mixin: PAUSED requests while the guest resets itself in a loop.

    QEMU's main thread pauses and resumes the vCPUs around every reset;
    paused requests must not race it (a client pausing from its own
    thread could clear the main thread's stop request, and the monitor
    hung).  Four clients send PAUSED READVs while the guest reboots
    hundreds of times; every request is answered, QMP keeps answering,
    and the guest goes on rebooting."""
    BIOS = staticmethod(resetting_bios)
    CLIENTS, ROUNDS = 4, 500    # each: this many resets and requests

    def resets(self):
        return struct.unpack("<I", self.c.read(RESETS, 4))[0]

    def test_paused_requests_during_resets(self):
        path = os.path.join(self.dir, "pm")
        errors, served = [], [0] * self.CLIENTS
        stop = threading.Event()

        def client(k):
            try:
                with Client(path) as c:
                    while not stop.is_set():
                        res = c.readv([(COUNTER, 4), (RESETS, 4)],
                                      paused=True)
                        if [st for st, _ in res] != [0, 0]:
                            raise AssertionError("statuses %r" % res)
                        served[k] += 1
            except BaseException as e:          # noqa: B902 - reported
                errors.append(e)

        first = self.resets()
        threads = [threading.Thread(target=client, args=(k,), daemon=True)
                   for k in range(self.CLIENTS)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 120
        self.qmp.sock.settimeout(30)        # a hung monitor fails here
        try:
            while (self.resets() - first < self.ROUNDS or
                   min(served) < self.ROUNDS) and not errors:
                self.assertEqual(self.qmp.cmd("query-status")["return"]
                                 ["status"], "running")
                self.assertLess(time.monotonic(), deadline,
                                "after 120 s: %d resets, requests served "
                                "%s" % (self.resets() - first, served))
                time.sleep(0.05)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertEqual(errors, [])
        self.assertFalse(any(t.is_alive() for t in threads),
                         "a client's paused request never returned")
        since = self.resets()
        deadline = time.monotonic() + 10
        while self.resets() == since:
            self.assertLess(time.monotonic(), deadline, "resets stopped")
            time.sleep(0.01)


class KvmOnly:
    """Mixin: skip the class where /dev/kvm cannot run it."""
    ACCEL = "kvm"
    CPU = "kvm64"           # PVM refuses -cpu host and max

    @classmethod
    def setUpClass(cls):
        why = kvm_unavailable()
        if why:
            raise unittest.SkipTest("KVM tests did not run: " + why)
        super().setUpClass()


class RunningGuestTCG(RunningGuest, unittest.TestCase):
    ACCEL = "tcg"


class RunningGuestKVM(KvmOnly, RunningGuest, unittest.TestCase):
    pass


class ResettingGuestTCG(ResettingGuest, unittest.TestCase):
    ACCEL = "tcg"


class ResettingGuestKVM(KvmOnly, ResettingGuest, unittest.TestCase):
    pass


if __name__ == "__main__":
    unittest.main()
