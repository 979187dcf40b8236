# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""Drive an interactive program (telnet, qmp-shell) on a pseudo-terminal,
as a user at a terminal would: send lines, wait for text.  A tiny expect.

Not a test module itself.
"""

import os
import pty
import re
import select
import signal
import subprocess
import time


class PtyError(Exception):
    pass


class PtySession:
    def __init__(self, argv, env=None):
        master, slave = pty.openpty()
        self.master = master
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave,
                                     stderr=slave, env=env,
                                     start_new_session=True)
        os.close(slave)
        self.buffer = ""
        self.transcript = ""

    def send(self, line):
        os.write(self.master, (line + "\r").encode())

    def expect(self, pattern, timeout=30):
        """Wait until @pattern (a regex) appears in the output; return
        the output up to and including it (consumed)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = regex.search(self.buffer)
            if m:
                out = self.buffer[:m.end()]
                self.buffer = self.buffer[m.end():]
                return out
            left = deadline - time.monotonic()
            if left <= 0:
                raise PtyError("timed out waiting for %r; output so far:\n%s"
                               % (pattern, self.transcript[-3000:]))
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    data = b""
                if not data:
                    raise PtyError("%s ended waiting for %r; output:\n%s"
                                   % (self.proc.args[0], pattern,
                                      self.transcript[-3000:]))
                text = data.decode("utf-8", "replace").replace("\r", "")
                self.buffer += text
                self.transcript += text

    def close(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        os.close(self.master)


class QmpShell(PtySession):
    """QEMU's own scripts/qmp/qmp-shell, from the QEMU tree @qemu_tree,
    connected to the QMP socket @qmp_path, on a pty."""

    PROMPT = r"\(QEMU\) "

    def __init__(self, qemu_tree, qmp_path):
        env = dict(os.environ, PYTHONPATH=os.path.join(qemu_tree, "python"))
        super().__init__(["/usr/bin/python3", os.path.join(
            qemu_tree, "scripts/qmp/qmp-shell"), qmp_path], env=env)
        self.expect(self.PROMPT)

    def run(self, line):
        """Type @line; qmp-shell's output up to the next prompt, without
        the pty's echo of @line (so that what the caller looks for must
        be in the reply)."""
        self.send(line)
        return self.expect(self.PROMPT).partition("\n")[2]
