# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""drgn on the real guest's live kernel, through pmemaccess_drgn.

The fixture (scripts/build-guest.sh) boots Debian's kernel with
-device vmcoreinfo, KASLR on and off; the kernel's DWARF is the vmlinux
of its -dbg package (scripts/fetch-guest-debuginfo.sh).  The guest keeps
running.  Two drgn Programs attach to one pmemaccess server that offers a
live pmemmap: one reads through the mapping (MAP), one by READ requests.
With each, what drgn finds is checked against what the guest printed on
its console:

- for_each_task: every pid and comm of the guest's own ps (but the ps
  and sed of its pipeline); the tasks born since are kernel threads;
- linux_banner is /proc/version, init_uts_ns's release is uname -r;
- the stack trace of vmi-idler and of its sleep names, in order, the
  functions of their /proc/PID/stack;
- reads drgn cannot make raise drgn.FaultError with the address: beyond
  the guest's RAM, in the kernel's map past RAM, and one the server
  refuses (not RAM);
- attach(qmp=...) starts a temporary read-only server with a pmemmap and
  stops it at close(); pmemaccess-cli drgn runs a script and a prompt.

Needs Debian's python3-drgn: run with /usr/bin/python3 -m unittest -v
test_drgn (QEMU_BINARY overrides the QEMU path).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import drgn
from drgn.helpers.linux import find_task, for_each_task

import pmemaccess_drgn
from guestvm import GuestVM
from pmemaccess import Client

HERE = os.path.dirname(os.path.abspath(__file__))
CLI = os.path.join(HERE, "pmemaccess-cli")
# Processes of the guest's ps that only lived for the ps itself
PS_PIPELINE = ("ps", "sed")


def same_comm(ps_comm, comm):
    """busybox ps shows a kworker as "comm-workqueue", cut to 15."""
    return ps_comm == comm or ps_comm.startswith(comm + "-")


def frame_is(prog, frame, name):
    """Whether @frame is in function @name, as /proc/PID/stack names it:
    by its DWARF function, or, in assembly, by the nearest symbol before
    its pc.  An inner label, as entry_SYSCALL_64_after_hwframe, is no
    symbol of its own to drgn: it lies in the one that holds the pc, which
    drgn 0.0.22 does not name and newer drgn names (entry_SYSCALL_64)."""
    if frame.name == name:
        return True
    try:
        symbol = frame.symbol()
        label = prog.symbol(name)
    except LookupError:
        return False
    return (symbol.name == name or
            symbol.address <= label.address <= frame.pc <
            symbol.address + symbol.size)


def names_frames(prog, names, frames):
    """Whether @names are the functions of @frames, in order, other
    frames between them (drgn also shows the scheduler's and inlined
    frames, /proc/PID/stack does not)."""
    it = iter(frames)
    return all(any(frame_is(prog, frame, name) for frame in it)
               for name in names)


class DrgnTests:
    KASLR = True

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="qemu-vmi-drgn-")
        cls.cli_qmp = os.path.join(cls.tmp, "cli-qmp.sock")
        cls.vm = GuestVM(kaslr=cls.KASLR, extra_args=[
            "-device", "vmcoreinfo",
            "-qmp", "unix:%s,server=on,wait=off" % cls.cli_qmp])
        cls.sock = os.path.join(cls.tmp, "pm.sock")
        for name, arguments in (("pmemaccess", {"path": cls.sock,
                                                "id": "drgn"}),
                                ("pmemmap", {"server": "drgn"})):
            reply = cls.vm.qmp.cmd(name, **arguments)
            assert "return" in reply, reply
        cls.progs = []
        try:
            cls.progs = [
                ("MAP", pmemaccess_drgn.attach(cls.sock)),
                ("READ", pmemaccess_drgn.attach(cls.sock, use_map=False)),
            ]
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for _, prog in cls.progs:
            pmemaccess_drgn.close(prog)
        cls.vm.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def each(self, check, *args):
        """check(prog, *args) for both Programs, each in a subTest."""
        for path, prog in self.progs:
            with self.subTest(path=path):
                check(prog, *args)

    def test_paths(self):
        self.assertEqual([pmemaccess_drgn.is_mapped(prog)
                          for _, prog in self.progs], [True, False])

    def test_tasks(self):
        ps = self.vm.ps()
        self.assertIn(1, ps)
        self.each(self.check_tasks, ps)

    def check_tasks(self, prog, ps):
        tasks = {}
        for task in for_each_task(prog):
            tasks[task.pid.value_()] = (task.comm.string_().decode(),
                                        task.mm.value_(),
                                        task.real_parent.pid.value_())
        for pid, comm in ps.items():
            if comm in PS_PIPELINE:
                continue
            self.assertIn(pid, tasks, "pid %d (%s) of ps" % (pid, comm))
            self.assertTrue(same_comm(comm, tasks[pid][0]),
                            "pid %d: ps %r, drgn %r"
                            % (pid, comm, tasks[pid][0]))
        # born since: kernel threads, and the sleep of init's last loop
        for pid, (comm, mm, ppid) in tasks.items():
            if pid not in ps:
                self.assertTrue(mm == 0 or (comm, ppid) == ("sleep", 1),
                                "pid %d (%s, parent %d), not in ps"
                                % (pid, comm, ppid))

    def test_banner(self):
        self.each(self.check_banner, self.vm.guest_value("GUEST-VERSION"))

    def check_banner(self, prog, version):
        banner = prog["linux_banner"].string_().decode()
        self.assertEqual(banner.rstrip("\n"), version)

    def test_uts_release(self):
        self.each(self.check_release, self.vm.guest_value("GUEST-UNAME-R"))

    def check_release(self, prog, release):
        self.assertEqual(prog["init_uts_ns"].name.release.string_()
                         .decode(), release)

    def test_stack_trace(self):
        stacks = [line.split() for line in
                  self.vm.guest_values("GUEST-STACK")]
        self.assertEqual([stack[1] for stack in stacks],
                         ["vmi-idler", "sleep"])
        for pid, comm, *functions in stacks:
            self.assertTrue(functions, "an empty /proc/%s/stack" % pid)
            self.each(self.check_stack, int(pid), comm, functions)

    def check_stack(self, prog, pid, comm, functions):
        task = find_task(prog, pid)
        self.assertEqual(task.comm.string_().decode(), comm)
        frames = list(prog.stack_trace(task))
        self.assertTrue(names_frames(prog, functions, frames),
                        "%d %s: /proc: %s; drgn: %s" % (
                            pid, comm, functions,
                            [pmemaccess_drgn.frame_name(frame) for frame in frames]))

    def test_faults(self):
        layout = Client(self.sock)
        self.addCleanup(layout.close)
        end = max(r.start + r.length for r in layout.layout)
        # the kernel's map (__START_KERNEL_map + PA - phys_base), just
        # past the RAM below 4 GiB
        ram_top = max(r.start + r.length for r in layout.layout
                      if not r.rom and r.start < 1 << 32)
        va = (pmemaccess_drgn.START_KERNEL_MAP + ram_top -
              layout.vmcoreinfo()["phys_base"] + 0x2000)
        self.each(self.check_faults, end + 0x1000, va)

    def check_faults(self, prog, pa, va):
        with self.assertRaises(drgn.FaultError) as cm:
            prog.read(pa, 8, True)
        self.assertEqual(cm.exception.address, pa)
        with self.assertRaises(drgn.FaultError) as cm:
            prog.read(va, 8)
        self.assertEqual(cm.exception.address, va)

    def test_server_fault(self):
        """A read the server refuses: FaultError at the address."""
        with Client(self.sock) as c:
            apic = 0xfee00000
            self.assertFalse(any(r.start <= apic < r.start + r.length
                                 for r in c.layout))
            prog = drgn.Program(drgn.Platform(
                drgn.Architecture.X86_64,
                drgn.PlatformFlags.IS_64_BIT |
                drgn.PlatformFlags.IS_LITTLE_ENDIAN))
            prog.add_memory_segment(
                *pmemaccess_drgn.read_segment(c, apic, 0x1000), True)
            with self.assertRaises(drgn.FaultError) as cm:
                prog.read(apic + 0x30, 4, True)
            self.assertEqual(cm.exception.address, apic + 0x30)
            self.assertIn("ENOTRAM", str(cm.exception))

    def running_servers(self):
        return sorted(s["id"] for s in
                      self.vm.qmp.cmd("query-pmemaccess")["return"])

    def test_attach_qmp(self):
        before = self.running_servers()
        prog = pmemaccess_drgn.attach(qmp=self.cli_qmp)
        try:
            self.assertTrue(pmemaccess_drgn.is_mapped(prog))
            self.assertEqual(len(self.running_servers()), len(before) + 1)
            self.assertEqual(prog["init_uts_ns"].name.release.string_()
                             .decode(), self.vm.guest_value("GUEST-UNAME-R"))
        finally:
            pmemaccess_drgn.close(prog)
        self.assertEqual(self.running_servers(), before)

    def cli(self, *args, stdin=None):
        proc = subprocess.run(
            [sys.executable, CLI, "--qmp", self.cli_qmp, "drgn"] +
            list(args), input=stdin, capture_output=True, text=True,
            timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc.stdout

    def test_cli_script(self):
        script = os.path.join(self.tmp, "release.py")
        with open(script, "w") as f:
            f.write("import sys\n"
                    "from drgn.helpers.linux import find_task\n"
                    "print(sys.argv[1:])\n"
                    "print(prog['init_uts_ns'].name.release.string_()"
                    ".decode())\n"
                    "print(find_task(prog, 1).comm.string_().decode())\n")
        out = self.cli(script, "one", "--two").split("\n")
        self.assertEqual(out[:3], ["['one', '--two']",
                                   self.vm.guest_value("GUEST-UNAME-R"),
                                   "init"])

    def test_cli_prompt(self):
        out = self.cli(stdin="print('pids', len(set(t.pid.value_() for t "
                       "in for_each_task(prog))))\n"
                       "print('banner', prog['linux_banner'].string_()"
                       ".decode())\n")
        ps = [pid for pid, comm in self.vm.ps().items()
              if comm not in PS_PIPELINE]
        # the prompts (">>> ") go to stdout too
        lines = [line.replace(">>> ", "") for line in out.split("\n")]
        pids = [int(line.split()[1]) for line in lines
                if line.startswith("pids ")]
        self.assertEqual(len(pids), 1, out)
        self.assertGreaterEqual(pids[0], len(ps))
        self.assertIn("banner " + self.vm.guest_value("GUEST-VERSION"),
                      lines)


class DrgnKaslrTest(DrgnTests, unittest.TestCase):
    KASLR = True


class DrgnNoKaslrTest(DrgnTests, unittest.TestCase):
    KASLR = False


if __name__ == "__main__":
    unittest.main()
