# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""A real, running guest: Debian's kernel with a busybox initramfs
(scripts/build-guest.sh), booted under TCG.  Its init prints
/proc/version on the serial console; the kernel's banner must be found
in guest RAM, byte for byte, through pmemaccess (module and CLI), while
the guest runs.  Run: python3 -m unittest -v test_guest.
"""

import os
import subprocess
import unittest

from guestvm import GuestVM, find_all
from pmemaccess import Client, GuestMemory

HERE = os.path.dirname(os.path.abspath(__file__))
CLI = os.path.join(HERE, "pmemaccess-cli")


class GuestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.vm = GuestVM()
        cls.version = cls.vm.guest_value("GUEST-VERSION").encode()
        cls.pm = os.path.join(cls.vm.dir, "pm.sock")
        for name, args in (("pmemaccess", {"path": cls.pm,
                                           "lifetime": "until-stopped"}),
                           ("pmemmap", {})):
            reply = cls.vm.qmp.cmd(name, **args)
            assert "return" in reply, reply

    @classmethod
    def tearDownClass(cls):
        cls.vm.close()

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
