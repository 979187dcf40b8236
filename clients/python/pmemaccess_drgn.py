# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""drgn on a live QEMU guest's kernel, through pmemaccess.

    import pmemaccess_drgn
    prog = pmemaccess_drgn.attach("/run/vm/pmemaccess.sock")
    prog = pmemaccess_drgn.attach(qmp="/run/vm/qmp.sock")
    for task in drgn.helpers.linux.for_each_task(prog): ...

Guest memory comes from the pmemmap mapping when the server offers one
(its fds mapped here; drgn's read callbacks return memoryviews of the
mapping, no copy and no round trip) and from READ requests otherwise;
the guest kernel's vmcoreinfo from the VMCOREINFO request (QEMU needs
-device vmcoreinfo, the guest the qemu_fw_cfg module); the guest-physical
RAM and ROM from the LAYOUT request.  Given a QMP socket, attach() finds
the server "pmemaccess" or starts a temporary read-only one (with a live,
read-only pmemmap) as pmemaccess-cli does, and stops it when the program
is closed (close(prog)) or freed.  Types and symbols come from the guest
kernel's DWARF (a vmlinux; default: find_vmlinux()).

Two generations of drgn's API, told apart by what they have:
- Program.set_linux_kernel_custom (drgn >= 0.1.0): the physical segments
  and the vmcoreinfo, flagged live;
- without it (Debian 12's python3-drgn 0.0.22): a core file that holds
  only the VMCOREINFO note (which makes the program a Linux kernel), then
  the physical segments and one virtual segment for the kernel's own map
  (__START_KERNEL_map, phys_base), without which drgn cannot translate
  the page-table root itself.  drgn then takes the guest for a core dump:
  nothing cached is invalidated, and tasks running on a vCPU at the
  instant of a read have no registers (their stack traces fail).

Unreadable guest memory raises drgn.FaultError with the address drgn
asked for.  program() builds the same Program over any physical read
function (bench/drgn-compare.py uses it for QMP and HMP readers).
"""

import argparse
import bisect
import importlib.machinery
import importlib.util
import os
import struct
import tempfile

import drgn

from pmemaccess import ENOMAP, Client, PmemError, ServerError

__all__ = ["attach", "from_client", "program", "close", "find_vmlinux",
           "vmcoreinfo_core", "is_mapped", "add_memory",
           "segments", "read_segment"]

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "../.."))
START_KERNEL_MAP = 0xffffffff80000000
KERNEL_MAP_SIZE = 1 << 30       # KERNEL_IMAGE_SIZE with KASLR
# Program.cache entries: the resources of attach(), the kernel's phys_base
CACHE_KEY = "pmemaccess_drgn"
PHYS_BASE_KEY = "pmemaccess_drgn.phys_base"

# Where find_vmlinux() looks, {release} being the guest's OSRELEASE: the
# build tree's (scripts/fetch-guest-debuginfo.sh), then Debian's and
# Fedora's places for an installed -dbg / debuginfo package
VMLINUX_PLACES = (
    os.path.join(TOP, "build/guest-dbg/vmlinux-{release}"),
    "/usr/lib/debug/boot/vmlinux-{release}",
    "/usr/lib/debug/lib/modules/{release}/vmlinux",
)


def _has_custom_kernel():
    return hasattr(drgn.Program, "set_linux_kernel_custom")


class _Resources:
    """What a Program of attach() holds (in prog.cache): closed with it."""

    def __init__(self):
        self.closers = []
        self.mapped = False

    def close(self):
        while self.closers:
            self.closers.pop()()

    def __del__(self):
        self.close()


def close(prog):
    """Release what attach() opened for @prog: the pmemaccess connection,
    the mapping, a temporary server.  @prog cannot read memory after."""
    res = prog.cache.pop(CACHE_KEY, None)
    if res:
        res.close()


def is_mapped(prog):
    """Whether @prog of attach() reads through the pmemmap mapping."""
    res = prog.cache.get(CACHE_KEY)
    return bool(res and res.mapped)


def find_vmlinux(release):
    """The first of VMLINUX_PLACES that exists for kernel @release."""
    for place in VMLINUX_PLACES:
        path = place.format(release=release)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(
        "no vmlinux with debug info for the guest's kernel %s in %s: pass "
        "one (the kernel's -dbg package has it; for the fixture's kernel, "
        "scripts/fetch-guest-debuginfo.sh fetches it)"
        % (release, ", ".join(p.format(release=release)
                              for p in VMLINUX_PLACES)))


def vmcoreinfo_core(text):
    """An ELF64 x86-64 core file that holds only a VMCOREINFO note with
    @text (bytes): what drgn 0.0.22 needs to take memory for a kernel's."""
    name = b"VMCOREINFO\0"
    note = struct.pack("<III", len(name), len(text), 0)
    note += name + bytes(-len(name) % 4) + text + bytes(-len(text) % 4)
    ehsize, phentsize = 64, 56
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)   # 64-bit, LSB, v1
    header = ident + struct.pack(
        "<HHIQQQIHHHHHH", 4, 62, 1, 0, ehsize, 0, 0, ehsize, phentsize, 1,
        0, 0, 0)                     # ET_CORE, EM_X86_64, one phdr
    phdr = struct.pack("<IIQQQQQQ", 4, 0, ehsize + phentsize, 0, 0,
                       len(note), len(note), 4)        # PT_NOTE
    return header + phdr + note


def _parse_vmcoreinfo(text):
    values = {}
    for line in text.decode(errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key] = value
    return values


class _Physical:
    """Guest-physical reads dispatched over segments, for the virtual
    segment of drgn 0.0.22 (kept apart from the Program: no cycle)."""

    def __init__(self, segments):
        self.segments = sorted(segments)
        self.starts = [s[0] for s in self.segments]

    def read(self, address, count):
        out = []
        while count:
            i = bisect.bisect_right(self.starts, address) - 1
            if i < 0 or address >= self.segments[i][0] + self.segments[i][1]:
                raise drgn.FaultError("not guest RAM or ROM", address)
            start, length, fn = self.segments[i]
            n = min(count, start + length - address)
            out.append(fn(address, n, address - start, True))
            address += n
            count -= n
        return out[0] if len(out) == 1 else b"".join(out)


def program(segments, vmcoreinfo, vmlinux=None, phys_base=None):
    """A drgn Program of a live Linux kernel over physical @segments, a
    list of (start, length, read_fn), read_fn as for
    Program.add_memory_segment: (address, count, offset, physical) ->
    @count bytes (bytes or a memoryview), or drgn.FaultError.
    @vmcoreinfo: the guest's VMCOREINFO text (str or bytes); @phys_base
    its NUMBER(phys_base) if not in the text; @vmlinux: the kernel with
    DWARF (default: find_vmlinux() of the text's OSRELEASE; False: load
    no debug info)."""
    if isinstance(vmcoreinfo, str):
        vmcoreinfo = vmcoreinfo.encode()
    info = _parse_vmcoreinfo(vmcoreinfo)
    if vmlinux is None:
        vmlinux = find_vmlinux(info.get("OSRELEASE", "unknown"))
    if phys_base is None:
        phys_base = int(info["NUMBER(phys_base)"])
    if _has_custom_kernel():
        prog = drgn.Program(drgn.Platform(
            drgn.Architecture.X86_64,
            drgn.PlatformFlags.IS_64_BIT |
            drgn.PlatformFlags.IS_LITTLE_ENDIAN))
        add_memory(prog, segments)
        prog.set_linux_kernel_custom(vmcoreinfo, True)
    else:
        prog = drgn.Program()
        with tempfile.NamedTemporaryFile(prefix="vmcoreinfo-",
                                         suffix=".core") as core:
            core.write(vmcoreinfo_core(vmcoreinfo))
            core.flush()
            prog.set_core_dump(core.name)
        prog.cache[PHYS_BASE_KEY] = phys_base % (1 << 64)
        add_memory(prog, segments)
    if vmlinux:
        prog.load_debug_info([vmlinux])
    return prog


def add_memory(prog, segments):
    """Give @prog of program() the physical @segments (as program()'s):
    they replace the memory they overlap, so that one Program (its types
    and symbols loaded once) can be read through several methods."""
    for start, length, fn in segments:
        prog.add_memory_segment(start, length, fn, True)
    if PHYS_BASE_KEY not in prog.cache:
        return
    # drgn 0.0.22: the kernel's own map, through the segments
    phys_base = prog.cache[PHYS_BASE_KEY]
    phys = _Physical(segments)

    def kernel_map(address, count, offset, physical):
        pa = (phys_base + offset) % (1 << 64)
        try:
            return phys.read(pa, count)
        except drgn.FaultError as e:
            raise drgn.FaultError(
                "%s (physical %#x)" % (e.message, e.address),
                address + e.address - pa) from None

    prog.add_memory_segment(START_KERNEL_MAP, KERNEL_MAP_SIZE, kernel_map,
                            False)


def frame_name(frame):
    """A stack frame's function, or its symbol's (assembly has no
    DWARF); None if neither is known."""
    if frame.name is not None:
        return frame.name
    try:
        return frame.symbol().name
    except LookupError:
        return None


def _fault(e, address, count):
    """drgn.FaultError for ServerError @e of a read of @count bytes at
    @address: at the first byte the server could not read, if it says."""
    where = e.address if address <= e.address < address + count else address
    return drgn.FaultError(str(e), where)


def read_segment(client, start, length):
    """A segment (start, length, read_fn) of the physical range at
    @start, read_fn making READ requests through @client."""
    def read_fn(address, count, offset, physical):
        try:
            return client.read(start + offset, count)
        except ServerError as e:
            raise _fault(e, start + offset, count) from None
        except PmemError as e:
            raise drgn.FaultError("pmemaccess: %s" % e,
                                  start + offset) from None
    return start, length, read_fn


def _mapped_segment(mv, start, length):
    """A segment whose read_fn returns memoryviews of @mv, the mapped
    range at @start."""
    def read_fn(address, count, offset, physical):
        return mv[offset:offset + count]
    return start, length, read_fn


def segments(client, use_map=True):
    """The physical segments (for program()) of @client's guest: its RAM
    and ROM from LAYOUT, read through the pmemmap mapping if @use_map and
    the server offers one, else by READ.  Returns (segments, view): view
    is the pmemaccess View mapped (None if none), to close after."""
    layout = client.current_layout()
    view = None
    if use_map:
        try:
            view = client.map()
        except ServerError as e:
            if e.code != ENOMAP:
                raise
        except OSError:
            pass                # cannot map here: READ will do
    out = []
    for r in layout:
        mv = view.gpa(r.start, r.length) if view else None
        if mv is not None:
            out.append(_mapped_segment(mv, r.start, r.length))
        else:
            out.append(read_segment(client, r.start, r.length))
    return out, view


def from_client(client, vmlinux=None, use_map=True, res=None):
    """A drgn Program over the guest of pmemaccess Client @client (kept
    open; closed by close(prog) when @res holds it).  @use_map: read from
    the pmemmap mapping if the server offers one."""
    res = res or _Resources()
    segs, view = segments(client, use_map)
    if view:
        res.closers.append(view.close)
    info = client.vmcoreinfo()
    prog = program(segs, info["text"], vmlinux, info.get("phys_base"))
    res.mapped = view is not None
    prog.cache[CACHE_KEY] = res
    return prog


def _cli():
    """pmemaccess-cli as a module: its Session starts the temporary
    server of a QMP socket."""
    path = os.path.join(HERE, "pmemaccess-cli")
    loader = importlib.machinery.SourceFileLoader("pmemaccess_cli", path)
    spec = importlib.util.spec_from_loader("pmemaccess_cli", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def attach(path=None, qmp=None, server_id=None, vmlinux=None,
           use_map=True):
    """A drgn Program of the live guest kernel served by the pmemaccess
    socket @path, or by QEMU's QMP socket @qmp (its server @server_id, by
    default "pmemaccess" or a temporary read-only one with a live
    pmemmap).  @vmlinux: the guest kernel with DWARF (default:
    find_vmlinux()); @use_map: use the pmemmap mapping when offered.
    close(prog) releases the connection (and the temporary server)."""
    if (path is None) == (qmp is None):
        raise ValueError("give one of path and qmp")
    res = _Resources()
    try:
        if path is not None:
            client = Client(path)
            res.closers.append(client.close)
        else:
            session = _cli().Session(argparse.Namespace(
                socket=None, qmp=qmp, id=server_id),
                map_mode="live" if use_map else None)
            client = session.__enter__()
            res.closers.append(lambda: session.__exit__(None, None, None))
        return from_client(client, vmlinux, use_map, res)
    except BaseException:
        res.close()
        raise
