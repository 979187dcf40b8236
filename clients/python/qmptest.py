# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""The tests' QMP client: JSON lines over a UNIX socket, events skipped;
and the names of the QEMU process's threads.

Not a test module itself, so unittest finds no tests through it.
"""

import array
import json
import os
import socket
import tempfile
import time


def thread_names(pid):
    """{thread id: name} of process @pid's threads (QEMU names its own
    with -name debug-threads=on); a thread that ends meanwhile is left
    out."""
    names = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                names[tid] = f.read().strip()
        except FileNotFoundError:
            pass
    return names


def connect_unix(path):
    """A socket connected to @path; QEMU may still be creating it: retry
    for up to 5 s."""
    for _ in range(500):
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.connect(path)
            return sock
        except OSError:
            sock.close()
            time.sleep(0.01)
    raise OSError("cannot connect to %s" % path)


class Qmp:
    def __init__(self, path):
        """Connect and negotiate capabilities."""
        self.sock = connect_unix(path)
        self.f = self.sock.makefile("rw")
        self.f.readline()
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        """The reply to command @name: a dict with "return" or "error"."""
        self.f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.f.flush()
        while True:
            reply = json.loads(self.f.readline())
            if "event" not in reply:
                return reply

    def getfd(self, name, fd):
        """Pass @fd to QEMU as @name: getfd, with the fd in SCM_RIGHTS
        on the command's bytes, as libvirt does."""
        self.f.flush()
        command = json.dumps({"execute": "getfd",
                              "arguments": {"fdname": name}}) + "\n"
        self.sock.sendmsg([command.encode()], [(
            socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
        while True:
            reply = json.loads(self.f.readline())
            if "event" not in reply:
                return reply

    def pmemsave(self, addr, size):
        """@size bytes of guest-physical memory at @addr as QEMU's own
        pmemsave reads them: the independent reader that tests of the
        other paths compare with."""
        with tempfile.TemporaryDirectory(prefix="qmptest-") as d:
            path = os.path.join(d, "pmemsave.bin")
            reply = self.cmd("pmemsave", val=addr, size=size, filename=path)
            if "return" not in reply:
                raise OSError("pmemsave: %s" % reply)
            with open(path, "rb") as f:
                return f.read()

    def close(self):
        self.f.close()
        self.sock.close()
