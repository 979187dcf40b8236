# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""Guest memory through QMP, and vmcoreinfo, on a real Linux guest.

The fixture (scripts/build-guest.sh) boots Debian's kernel with KASLR,
-device vmcoreinfo and the qemu_fw_cfg module in its initramfs, so the
guest publishes its VMCOREINFO note.  What QMP reports is checked against
what the guest itself printed (uname -r, /proc/version, kallsyms) and
against the kernel image (link-time addresses, linux_image.py):

- query-vmcoreinfo: OSRELEASE is uname -r, KERNELOFFSET is the KASLR
  slide of _text, and the page-table root it gives reads the banner at
  its link-time address plus KERNELOFFSET through read-guest-memory;
- phys_base: the banner's physical address from it reads the same bytes,
  and write-guest-memory (-introspection write=on) changes them;
- init_uts_ns: the release read through it is uname -r;
- HMP info vmcoreinfo, pmemaccess's VMCOREINFO request;
- qmp-shell drives the commands end to end.

Run: QEMU_BINARY=... python3 -m unittest -v test_vmcoreinfo.
"""

import base64
import os
import re
import shutil
import tempfile
import unittest

import qemubuild
from guestvm import GUEST, GuestVM
from linux_image import KernelImage
from pmemaccess import Client
from ptyexpect import QmpShell

QEMU_TREE = qemubuild.TREE
START_KERNEL_MAP = 0xffffffff80000000
NEW_UTS_LEN = 65                # struct new_utsname: sysname, nodename, ...


class VmcoreinfoTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="qemu-vmi-vmci-")
        cls.shell_qmp = os.path.join(cls.tmp, "shell-qmp.sock")
        cls.vm = GuestVM(kaslr=True, extra_args=[
            "-device", "vmcoreinfo", "-introspection", "write=on",
            "-qmp", "unix:%s,server=on,wait=off" % cls.shell_qmp])
        cls.image = KernelImage(os.path.join(GUEST, "vmlinux"))
        cls.info = cls.vm.qmp.cmd("query-vmcoreinfo").get("return")

    @classmethod
    def tearDownClass(cls):
        cls.vm.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def read(self, addr, size, **args):
        reply = self.vm.qmp.cmd("read-guest-memory", addr=addr, size=size,
                                **args)
        self.assertIn("return", reply, reply)
        return base64.b64decode(reply["return"]["data"])

    def banner(self):
        """(runtime virtual address, text) of linux_banner, from the
        kernel image's link-time address and the guest's KERNELOFFSET."""
        link, text = self.image.banner()
        return link + self.info["kernel-offset"], text

    def test_query(self):
        self.assertIsNotNone(self.info, "query-vmcoreinfo failed")
        self.assertEqual(self.info["osrelease"],
                         self.vm.guest_value("GUEST-UNAME-R"))
        self.assertEqual(self.info["page-size"], 4096)
        self.assertIn("OSRELEASE=%s\n" % self.info["osrelease"],
                      self.info["raw"])
        # KERNELOFFSET is the slide of _text from its link-time address
        self.assertEqual(self.image.text + self.info["kernel-offset"],
                         self.vm.kallsyms("_text"))
        self.assertEqual(self.info["init-uts-ns"],
                         self.vm.kallsyms("init_uts_ns"))
        self.assertFalse(self.info["la57"])
        self.assertEqual(self.info["page-table-root"],
                         self.info["swapper-pg-dir"] - START_KERNEL_MAP +
                         self.info["phys-base"])

    def test_banner_through_page_tables(self):
        va, text = self.banner()
        self.assertEqual(va, self.vm.kallsyms("linux_banner"))
        version = self.vm.guest_value("GUEST-VERSION")
        self.assertEqual(text.rstrip("\n"), version)
        data = self.read(va, len(text),
                         root=self.info["page-table-root"]).decode()
        self.assertEqual(data, text)
        # the vCPU's own CR3 reaches it too (the kernel half is shared)
        regs = self.vm.hmp("info registers")
        cr3 = int(re.search(r"CR3=([0-9a-f]+)", regs).group(1), 16)
        self.assertEqual(self.read(va, len(text), root=cr3).decode(), text)

    def test_phys_base_and_write(self):
        va, text = self.banner()
        pa = va - START_KERNEL_MAP + self.info["phys-base"]
        self.assertEqual(self.read(pa, len(text)).decode(), text)
        root = self.info["page-table-root"]
        try:
            reply = self.vm.qmp.cmd("write-guest-memory", addr=pa,
                                    data=base64.b64encode(b"X").decode())
            self.assertEqual(reply, {"return": {}})
            self.assertEqual(self.read(va, 5, root=root), b"Xinux")
        finally:
            self.vm.qmp.cmd("write-guest-memory", addr=pa,
                            data=base64.b64encode(b"L").decode())
        self.assertEqual(self.read(va, 5, root=root), b"Linux")

    def test_uts_release(self):
        offset = int(re.search(r"^OFFSET\(uts_namespace\.name\)=(\d+)$",
                               self.info["raw"], re.M).group(1))
        release = self.read(self.info["init-uts-ns"] + offset +
                            2 * NEW_UTS_LEN, NEW_UTS_LEN,
                            root=self.info["page-table-root"])
        self.assertEqual(release.split(b"\0")[0].decode(),
                         self.vm.guest_value("GUEST-UNAME-R"))

    def test_refused(self):
        reply = self.vm.qmp.cmd("read-guest-memory", addr=0xfee00000,
                                size=8)
        self.assertIn("0xfee00000", reply["error"]["desc"])
        reply = self.vm.qmp.cmd("read-guest-memory", addr=0, size=2 << 20)
        self.assertIn("pmemaccess", reply["error"]["desc"])

    def test_hmp(self):
        out = self.vm.hmp("info vmcoreinfo")
        self.assertIn(self.info["osrelease"], out)
        self.assertIn("kernel offset   %#x" % self.info["kernel-offset"],
                      out)
        self.assertIn("page-table root %#x" % self.info["page-table-root"],
                      out)

    def test_pmemaccess_v2(self):
        sock = os.path.join(self.tmp, "pm.sock")
        reply = self.vm.qmp.cmd("pmemaccess", path=sock, id="vmci")
        self.assertEqual(reply, {"return": {"id": "vmci"}})
        self.addCleanup(self.vm.qmp.cmd, "pmemaccess-stop", id="vmci")
        with Client(sock) as c:
            info = c.vmcoreinfo()
            self.assertEqual(info["text"], self.info["raw"])
            self.assertEqual(info["osrelease"], self.info["osrelease"])
            for key in ("kernel-offset", "phys-base", "page-table-root",
                        "swapper-pg-dir", "init-uts-ns", "page-size",
                        "paddr"):
                self.assertEqual(info[key.replace("-", "_")],
                                 self.info[key], key)
            # everything a socket client needs to read the banner
            link, text = self.image.banner()
            data = c.read(link + info["kernel_offset"], len(text),
                          root=info["page_table_root"])
            self.assertEqual(data.decode(), text)

    def test_qmp_shell(self):
        shell = QmpShell(QEMU_TREE, self.shell_qmp)
        self.addCleanup(shell.close)
        run = shell.run

        out = run("query-vmcoreinfo")
        self.assertIn('"osrelease": "%s"' % self.info["osrelease"], out)
        self.assertIn('"kernel-offset": %d' % self.info["kernel-offset"], out)
        va, text = self.banner()
        out = run("read-guest-memory addr=%d size=%d root=%d"
                  % (va, len(text), self.info["page-table-root"]))
        data = re.search(r'"data": "([A-Za-z0-9+/=]*)"', out).group(1)
        self.assertEqual(base64.b64decode(data).decode(), text)
        out = run("read-guest-memory addr=%d size=8" % 0xfee00000)
        self.assertIn("0xfee00000", out)
        self.assertIn("MMIO", out)
        pa = va - START_KERNEL_MAP + self.info["phys-base"]
        self.assertIn('"return": {}',
                      run("write-guest-memory addr=%d data=TA==" % pa))
