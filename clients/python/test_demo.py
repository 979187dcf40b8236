# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""The README's demo (demo/vmi-demo), run as a user runs it, with KASLR on
and off; what it prints is checked against the guests' own serial
consoles (kept with --serial-dir): the kernel's base and banner address
against /proc/kallsyms, the banner against /proc/version, the process
table against the guest's ps.  Run: python3 -m unittest -v test_demo.
"""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from guestvm import GUEST, TOP
from linux_image import KernelImage

DEMO = os.path.join(TOP, "demo/vmi-demo")
PIPELINE = ("ps", "sed")        # the guest's ps and its filter
# tasks the walk may see that the guest's ps, earlier, did not: the idle
# task, the ps pipeline, the sleeps vmi-idler keeps starting, and kernel
# workers started on demand
NOT_IN_PS = ("swapper/0", "sleep") + PIPELINE


def may_be_new(comm):
    return comm in NOT_IN_PS or comm.startswith("kworker/")


def serial_values(path, key):
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", "replace").replace("\r", "")
    return [line[len(key) + 2:] for line in text.split("\n")
            if line.startswith(key + ": ")]


class DemoTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="qemu-vmi-demo-")
        cls.result = subprocess.run([DEMO, "--quick", "--serial-dir", cls.dir],
                                 capture_output=True, text=True, timeout=600)
        # one section per guest, KASLR on first
        cls.sections = cls.result.stdout.split("=" * 78)[1:3]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def test_exit_status(self):
        self.assertEqual(self.result.returncode, 0, self.result.stdout +
                         self.result.stderr)
        self.assertIn("everything read from outside matches",
                      self.result.stdout)

    def check_guest(self, mode):
        out = self.sections[0 if mode == "on" else 1]
        self.assertIn("KASLR %s" % mode, out)
        serial = os.path.join(self.dir, "serial-kaslr-%s.log" % mode)
        kallsyms = {}
        for line in serial_values(serial, "GUEST-KALLSYMS"):
            addr, _, name = line.split()
            kallsyms[name] = int(addr, 16)

        text = int(re.search(r"kernel _text at (0x[0-9a-f]+)", out)[1], 16)
        slide = int(re.search(r"KASLR slide (0x[0-9a-f]+)", out)[1], 16)
        self.assertEqual(text, kallsyms["_text"])
        link = KernelImage(os.path.join(GUEST, "vmlinux")).text
        self.assertEqual(slide, text - link)
        if mode == "off":
            self.assertEqual(slide, 0)
        else:
            # the guest did slide its kernel, or KASLR was not tested (the
            # kernel picks slide 0 in about one boot of 500)
            self.assertNotEqual(slide, 0)

        banner_at = int(re.search(r"linux_banner at (0x[0-9a-f]+)", out)[1],
                        16)
        self.assertEqual(banner_at, kallsyms["linux_banner"])
        read = re.search(r"\n   read: +(.*)\n", out)[1]
        self.assertEqual(read, serial_values(serial, "GUEST-VERSION")[0])

        table = dict((int(pid), comm) for pid, comm in re.findall(
            r"\n +(\d+)  (\S+) +\S+(?=\n)", out))
        self.assertEqual(table.get(0), "swapper/0")
        ps = {}
        for line in serial_values(serial, "GUEST-PS")[1:]:
            pid, comm = line.split()
            ps[int(pid)] = comm
            if comm in PIPELINE:
                continue
            # busybox ps shows a kworker as "comm-workqueue", cut to 15
            got = table.get(int(pid), "")
            self.assertTrue(comm == got or got.startswith("kworker/") and
                            comm.startswith(got + "-"),
                            "pid %s: ps says %s, read %r" % (pid, comm, got))
        # and the walk read no task that the guest did not have
        for pid, comm in table.items():
            self.assertTrue(pid in ps or may_be_new(comm),
                            "read pid %d %r, which ps did not show" %
                            (pid, comm))
        self.assertIn("vmi-counter", table.values())

    def test_kaslr_on(self):
        self.check_guest("on")

    def test_kaslr_off(self):
        self.check_guest("off")

    def test_speed_table(self):
        out = self.sections[0]
        rows = re.findall(r"\n   (xp|pmemsave|pmemaccess|pmemmap)[^\n]*"
                          r"  (yes|NO)(?=\n)", out)
        self.assertEqual([r[0] for r in rows], ["xp", "pmemsave",
                                                "pmemaccess", "pmemaccess",
                                                "pmemmap"])
        self.assertEqual({r[1] for r in rows}, {"yes"})
        self.assertRegex(out, r"paused READV: A=\d+ B=\d+  A-B=[01]  "
                         r"consistent")


class DemoDrgnTest(unittest.TestCase):
    """./run --drgn: after the demo, drgn's prompt on the last guest,
    which is still running.  The prompt's input comes from stdin."""

    def test_prompt_on_the_demo_guest(self):
        tmp = tempfile.mkdtemp(prefix="qemu-vmi-demo-drgn-")
        self.addCleanup(shutil.rmtree, tmp)
        result = subprocess.run(
            [DEMO, "--quick", "--kaslr", "off", "--serial-dir", tmp,
             "--drgn"], capture_output=True, text=True, timeout=600,
            input="print('release', prog['init_uts_ns'].name.release"
                  ".string_().decode())\n"
                  "print('pid1', find_task(prog, 1).comm.string_()"
                  ".decode())\n")
        self.assertEqual(result.returncode, 0, result.stdout +
                         result.stderr)
        self.assertIn("6. drgn on this guest", result.stdout)
        lines = [line.replace(">>> ", "")
                 for line in result.stdout.split("\n")]
        serial = os.path.join(tmp, "serial-kaslr-off.log")
        self.assertIn("release " + serial_values(serial, "GUEST-UNAME-R")[0],
                      lines)
        self.assertIn("pid1 init", lines)
        # the prompt ran before the guest stopped: the demo's verdict last
        self.assertLess(result.stdout.index("release "),
                        result.stdout.index("vmi-demo: everything"))


if __name__ == "__main__":
    unittest.main()
