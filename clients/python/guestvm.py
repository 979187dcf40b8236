# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""The real-guest fixture, booted: Debian's kernel and the busybox
initramfs of scripts/build-guest.sh, running under TCG on the patched
QEMU with its RAM in a shared memfd and QMP on a UNIX socket.

The guest's init prints "GUEST-KEY: value" lines on the serial console
(its /proc/version, uname -r, /proc/kallsyms addresses, its own ps) and
then "GUEST-READY"; GuestVM waits for that line and gives those values to
the tests, which compare them with what they read from outside.

    with GuestVM(kaslr=False) as vm:
        vm.qmp.cmd("pmemaccess", path=...)
        vm.guest_value("GUEST-VERSION")

Not a test module itself.
"""

import os
import shutil
import subprocess
import tempfile
import time

import qemubuild
from qmptest import Qmp

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "../.."))
QEMU = qemubuild.BINARY
GUEST = os.environ.get("GUEST_DIR", os.path.join(TOP, "build/guest"))
BOOT_TIMEOUT = 120
COUNTER_OFFSET = 64             # guest/vmi-counter.c


class GuestError(Exception):
    pass


class GuestVM:
    """A booted guest; a context manager that stops QEMU on exit."""

    def __init__(self, mem="512M", kaslr=True, extra_args=(), qemu=None,
                 serial_log=None, append=""):
        """@mem: guest RAM (a memfd, share=on); @kaslr: False appends
        "nokaslr"; @extra_args: more QEMU arguments; @serial_log: where
        to keep the serial console (default: in the temporary dir);
        @append: more kernel command line."""
        self.dir = tempfile.mkdtemp(prefix="qemu-vmi-guest-")
        self.qmp_path = os.path.join(self.dir, "qmp.sock")
        self.serial_path = serial_log or os.path.join(self.dir, "serial.log")
        self.qmp = None
        append = " ".join(["console=ttyS0 panic=-1 quiet",
                           "" if kaslr else "nokaslr", append]).strip()
        self.args = [
            qemu or QEMU, "-machine", "pc,memory-backend=ram0", "-m", mem,
            "-object", "memory-backend-memfd,id=ram0,size=%s,share=on" % mem,
            "-accel", "tcg", "-kernel", os.path.join(GUEST, "vmlinuz"),
            "-initrd", os.path.join(GUEST, "initramfs.cpio.gz"),
            "-append", append, "-serial", "file:" + self.serial_path,
            "-display", "none", "-nodefaults", "-no-reboot",
            "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
        ] + list(extra_args)
        # a session of its own: Ctrl-C at a prompt (vmi-demo --drgn) goes
        # to the prompt, not to the guest; close() stops QEMU
        self.process = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
        try:
            self._wait_ready()
            self.qmp = Qmp(self.qmp_path)
        except BaseException:
            self.close()
            raise

    def _wait_ready(self):
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            if "GUEST-READY" in self.serial():
                return
            if self.process.poll() is not None:
                raise GuestError("QEMU exited with %d before the guest was "
                                 "ready:\n%s" % (self.process.returncode,
                                                 self.serial()[-2000:]))
            time.sleep(0.1)
        raise GuestError("the guest did not reach init in %d s:\n%s"
                         % (BOOT_TIMEOUT, self.serial()[-2000:]))

    def serial(self):
        """The serial console so far, as text."""
        try:
            with open(self.serial_path, "rb") as f:
                return f.read().decode("utf-8", "replace").replace("\r", "")
        except FileNotFoundError:
            return ""

    def guest_values(self, key):
        """The values of every "KEY: value" line the guest printed."""
        prefix = key + ": "
        return [line[len(prefix):] for line in self.serial().split("\n")
                if line.startswith(prefix)]

    def guest_value(self, key):
        values = self.guest_values(key)
        if not values:
            raise GuestError("the guest printed no %s line" % key)
        return values[0]

    def kallsyms(self, name):
        """The address /proc/kallsyms gave for symbol @name."""
        for line in self.guest_values("GUEST-KALLSYMS"):
            addr, _, sym = line.split()
            if sym == name:
                return int(addr, 16)
        raise GuestError("no kallsyms line for %s" % name)

    def ps(self):
        """The guest's own ps, as {pid: comm}."""
        procs = {}
        for line in self.guest_values("GUEST-PS"):
            pid, _, comm = line.strip().partition(" ")
            if pid.isdigit():
                procs[int(pid)] = comm.strip()
        return procs

    def hmp(self, command):
        """An HMP command through QMP; its output."""
        reply = self.qmp.cmd("human-monitor-command", **{
            "command-line": command})
        if "return" not in reply:
            raise GuestError("%s: %s" % (command, reply))
        return reply["return"]

    def close(self):
        if self.qmp:
            try:
                self.qmp.cmd("quit")        # a clean exit, no message
            except (OSError, ValueError):
                pass
            self.qmp.close()
            self.qmp = None
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def find_counters(mem, pid):
    """Guest-physical addresses of vmi-counter's counters A and B (the
    fixture's guest/vmi-counter.c): found by their pages' tags in
    GuestMemory @mem."""
    found = []
    for name in "AB":
        tag = b"vmi-counter %s pid=%d\n" % (name.encode(), pid)
        hits = find_all(mem, tag)
        if len(hits) != 1:
            raise GuestError("counter %s of pid %d: %d tagged pages"
                             % (name, pid, len(hits)))
        found.append(hits[0] + COUNTER_OFFSET)
    return found


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
