#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""drgn-compare: one drgn script on a live guest, its memory read four
ways, side by side.

    drgn-compare.py [--qemu BINARY] [--vmlinux PATH] [--quick]

Boots the real-guest fixture (scripts/build-guest.sh: Debian's kernel,
KASLR on, -device vmcoreinfo, TCG, 512 MiB of memfd RAM) on the patched
QEMU, starts a pmemaccess server with a live pmemmap, and builds one drgn
Program (pmemaccess_drgn.program: the guest's vmcoreinfo, the DWARF of
its -dbg vmlinux) whose physical segments, the guest's RAM and ROM, are
read through, in turn:

  pmemmap                 the MAP fds mapped here: read callbacks return
                          memoryviews of the mapping
  pmemaccess READ         one v2 READ request per drgn read
  QMP read-guest-memory   one QMP command per drgn read, base64 reply
  HMP xp                  human-monitor-command "xp /Nxb ADDR", N <= 1024,
                          the hexdump parsed: drgn's own --qemu method
                          when it has no ptrace rights over QEMU

The drgn script (workload()): the kernel's release and banner, then for
every task its pid, comm, context switches and, if it is not running,
the functions of its stack trace.  One untimed run first warms drgn's
type and symbol caches, so that each timed run reads the same memory.
The guest keeps running: a task that ran between two runs (its context
switches differ) or while drgn unwound it may have another stack, and
is counted; every other result must be equal across the four ways:
exit status 1 if not (never "too slow"), 2 on an error.
--quick runs the script on the first 8 tasks only: it proves that every
way reads right; its timings mean little.
"""

import argparse
import base64
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "clients", "python"))

import drgn                                             # noqa: E402
from drgn.helpers.linux import (for_each_task,          # noqa: E402
                                task_state_to_char)

import pmemaccess_drgn                                  # noqa: E402
import qemubuild                                        # noqa: E402
from guestvm import GuestVM                             # noqa: E402
from pmemaccess import Client                           # noqa: E402

QUICK_TASKS = 8
XP_MAX = 1024                   # bytes per xp /Nxb, as drgn's own backend
QMP_MAX = 1 << 20               # read-guest-memory's limit


def frame_name(frame):
    return pmemaccess_drgn.frame_name(frame) or "%#x" % frame.pc


def switches(task):
    return task.nvcsw.value_() + task.nivcsw.value_()


def sleeps(task):
    return task_state_to_char(task) != "R" and not task.on_cpu


def workload(prog, max_tasks=None):
    """The drgn script: (release, banner, [(pid, comm, switches, stack)]).
    @switches: the task's context switches so far; stack None for a task
    that runs (on a vCPU, or runnable), or ran while drgn unwound it."""
    release = prog["init_uts_ns"].name.release.string_().decode()
    banner = prog["linux_banner"].string_().decode()
    tasks = []
    for task in for_each_task(prog):
        if max_tasks is not None and len(tasks) >= max_tasks:
            break
        before = switches(task)
        stack = None
        if sleeps(task):
            try:
                stack = tuple(frame_name(f) for f in prog.stack_trace(task))
            except (drgn.FaultError, ValueError) as e:
                stack = ("error: %s" % e,)
            # it woke (switched out since, or running now)?
            if switches(task) != before or not sleeps(task):
                stack = None
        tasks.append((task.pid.value_(), task.comm.string_().decode(),
                      before, stack))
    return release, banner, tasks


# --------------------------------------------------------------------------
# The four readers, each as physical segments over the guest's layout

def chunked_segments(layout, chunk, read_chunk):
    """Segments over @layout whose read_fn reads at most @chunk bytes at
    a time with read_chunk(address, n), which returns the n bytes or
    raises drgn.FaultError."""
    def segment(start, length):
        def read_fn(address, count, offset, physical):
            return b"".join(read_chunk(address + off, min(chunk, count - off))
                            for off in range(0, count, chunk))
        return start, length, read_fn
    return [segment(r.start, r.length) for r in layout]


def qmp_segments(vm, layout):
    def read_chunk(address, n):
        reply = vm.qmp.cmd("read-guest-memory", addr=address, size=n)
        if "return" not in reply:
            raise drgn.FaultError("read-guest-memory: %s"
                                  % reply["error"]["desc"], address)
        return base64.b64decode(reply["return"]["data"])
    return chunked_segments(layout, QMP_MAX, read_chunk)


def parse_xp(text):
    """The bytes of an "xp /Nxb" hexdump ("ADDR: 0x7f 0x45 ...")."""
    out = bytearray()
    for line in text.splitlines():
        out += bytes(int(word, 16) for word in line.partition(":")[2].split())
    return bytes(out)


def xp_segments(vm, layout):
    def read_chunk(address, n):
        text = vm.hmp("xp /%dxb %#x" % (n, address))
        data = parse_xp(text)
        if len(data) != n:
            raise drgn.FaultError("xp: %r" % text[:80], address)
        return data
    return chunked_segments(layout, XP_MAX, read_chunk)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qemu", default=qemubuild.BINARY)
    ap.add_argument("--vmlinux", help="the guest kernel with DWARF "
                    "(default: pmemaccess_drgn.find_vmlinux())")
    ap.add_argument("--quick", action="store_true",
                    help="the first %d tasks only" % QUICK_TASKS)
    args = ap.parse_args()
    max_tasks = QUICK_TASKS if args.quick else None

    with GuestVM(kaslr=True, qemu=args.qemu,
                 extra_args=["-device", "vmcoreinfo"]) as vm:
        sock = os.path.join(vm.dir, "pm.sock")
        for name, arguments in (("pmemaccess", {"path": sock, "id": "drgn"}),
                                ("pmemmap", {"server": "drgn"})):
            reply = vm.qmp.cmd(name, **arguments)
            if "return" not in reply:
                raise RuntimeError("%s: %s" % (name, reply))
        with Client(sock) as mapped, Client(sock) as reader:
            mapped_segments, view = pmemaccess_drgn.segments(mapped)
            if not view:
                raise RuntimeError("the server offers no mapping")
            read_segments, _ = pmemaccess_drgn.segments(reader, False)
            ways = [("pmemmap (MAP, memoryviews)", mapped_segments),
                    ("pmemaccess READ", read_segments)]
            layout = reader.current_layout()
            ways += [("QMP read-guest-memory", qmp_segments(vm, layout)),
                     ("HMP xp /Nxb (drgn's own method)",
                      xp_segments(vm, layout))]
            info = reader.vmcoreinfo()
            start = time.perf_counter()
            prog = pmemaccess_drgn.program(ways[0][1], info["text"],
                                           args.vmlinux, info["phys_base"])
            load = time.perf_counter() - start
            reads = [0, 0]
            pmemaccess_drgn.add_memory(prog, counted(ways[0][1], reads))
            start = time.perf_counter()
            workload(prog, max_tasks)
            warm = time.perf_counter() - start
            results = []
            for name, segments in ways:
                pmemaccess_drgn.add_memory(prog, segments)
                start = time.perf_counter()
                result = workload(prog, max_tasks)
                results.append((name, time.perf_counter() - start, result))
            view.close()
    return report(results, load, warm, reads, max_tasks)


def counted(segments, reads):
    """@segments whose reads add to @reads: [count, bytes]."""
    def wrap(fn):
        def read_fn(address, count, offset, physical):
            reads[0] += 1
            reads[1] += count
            return fn(address, count, offset, physical)
        return read_fn
    return [(start, length, wrap(fn)) for start, length, fn in segments]


def report(results, load, warm, reads, max_tasks):
    """Print the table; whether every result agrees."""
    release, banner, tasks = results[0][2]
    frames = sum(len(t[3]) for t in tasks if t[3])
    print("drgn-compare: drgn %s, guest kernel %s, KASLR on, running"
          % (drgn.__version__, release))
    print("the script: release, banner, %d tasks' pid/comm/switches, %d "
          "sleeping tasks' stack traces (%d frames)%s"
          % (len(tasks), sum(1 for t in tasks if t[3]), frames,
             " (--quick: the first %d tasks)" % max_tasks
             if max_tasks else ""))
    print("loading the vmlinux's DWARF: %.2f s; the warm-up run (pmemmap): "
          "%.3f s, %d reads of guest memory, %d bytes"
          % (load, warm, reads[0], reads[1]))
    print()
    print("| how drgn reads guest memory | the script | vs pmemmap |")
    print("|---|---|---|")
    base = results[0][1]
    for name, seconds, _ in results:
        print("| %s | %s | %.1fx |" % (name, human(seconds), seconds / base))
    ok = True
    moved = set()
    for name, _, (rel, ban, others) in results[1:]:
        if (rel, ban) != (release, banner):
            print("MISMATCH: %s: release/banner %r %r" % (name, rel, ban))
            ok = False
        if [t[:2] for t in others] != [t[:2] for t in tasks]:
            print("MISMATCH: %s: the task list differs" % name)
            ok = False
            continue
        for mine, theirs in zip(tasks, others):
            if mine[3] == theirs[3]:
                continue
            # a task that ran between the runs, or while drgn unwound it
            if None in (mine[3], theirs[3]) or mine[2] != theirs[2]:
                moved.add(mine[0])
                continue
            print("MISMATCH: %s: pid %d's stack %s, pmemmap's %s"
                  % (name, mine[0], theirs[3], mine[3]))
            ok = False
    print()
    print("drgn-compare: %s; %d task(s) ran between the runs or while "
          "drgn unwound them: only their pid and comm compared%s"
          % ("every way gave the same results" if ok else "MISMATCH",
             len(moved), " (pids %s)" % sorted(moved) if moved else ""))
    return 0 if ok else 1


def human(seconds):
    if seconds >= 1:
        return "%.2f s" % seconds
    return "%.0f ms" % (seconds * 1e3)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, RuntimeError, drgn.FaultError) as e:
        sys.stderr.write("drgn-compare: %s\n" % e)
        sys.exit(2)
