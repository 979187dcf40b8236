# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""Client for QEMU's pmemaccess server (protocol v2) and pmemmap.

Standard library only.  See QEMU's docs/interop/pmemaccess.rst.

    with Client("/tmp/vmi.sock") as c:
        data = c.read(0x1000, 64)                      # guest-physical
        banner = c.read(va, 128, root=cr3)             # virtual, 4-level
        parts = c.readv([(a1, 8), (a2, 8)], paused=True)
        with c.map() as view:                          # needs pmemmap
            mv = view.gpa(0x1000, 64)                  # memoryview, live
    mem = GuestMemory(c)                               # file-like, read-only

A Client is not thread-safe: give each thread its own.
"""

import array
import io
import mmap
import os
import socket
import struct

__all__ = ["Client", "View", "GuestMemory", "PmemError", "ServerError",
           "Range", "MapRange"]

CLIENT_MAGIC = b"QPMEMv2\n"
SERVER_MAGIC = b"QPMEMsrv"
REQUEST_MAGIC = 0x51524D50
REPLY_MAGIC = 0x50524D50

READ, WRITE, READV, LAYOUT, MAP, GENERATION, VMCOREINFO = 1, 2, 3, 4, 5, 6, 7
FLAG_VIRTUAL, FLAG_LA57, FLAG_PAUSED = 1, 2, 4
HELLO_WRITE = 1
RANGE_ROM = 1
MAP_WRITABLE, MAP_SNAPSHOT, MAP_SEALED = 1, 2, 4
MAP_NO_FD = 0xFFFFFFFF

ERRORS = {
    1: ("EINVAL", "malformed request"),
    2: ("EUNSUPPORTED", "unsupported request"),
    3: ("ETOOBIG", "request over the server's limits"),
    4: ("EOVERFLOW", "range wraps past 2^64"),
    5: ("ENOTRAM", "not RAM (MMIO or unassigned)"),
    6: ("EPERM", "write refused"),
    7: ("EFAULT", "virtual address not mapped"),
    8: ("ENOMAP", "the server offers no mapping: run pmemmap"),
    9: ("ENODATA", "the guest has published no vmcoreinfo: QEMU needs "
                   "-device vmcoreinfo, the guest the qemu_fw_cfg module"),
}
for _code, (_name, _) in ERRORS.items():
    globals()[_name] = _code

_HELLO = struct.Struct("<8sIIIIQII")
_RANGE = struct.Struct("<QQII")
_REQUEST = struct.Struct("<IHHQQQQ")
_REPLY = struct.Struct("<IIQQQ")
_SEGMENT = struct.Struct("<QQ")
_MAP_HEAD = struct.Struct("<QIIII")
_MAP_RANGE = struct.Struct("<QQQII64s")
_VMCOREINFO = struct.Struct("<IIQQqQQQQ64s")
# VMCOREINFO's valid bits, and the fields they stand for
VMCOREINFO_FIELDS = ("osrelease", "page_size", "kernel_offset", "phys_base",
                     "swapper_pg_dir", "init_uts_ns", "page_table_root")
VMCI_LA57 = 1 << 7


class PmemError(Exception):
    """A connection or protocol failure: the connection is unusable."""


class ServerError(PmemError):
    """The server refused a request; the connection goes on."""

    def __init__(self, code, address):
        name, what = ERRORS.get(code, ("E%d" % code, "unknown error"))
        where = (" at %#x" % address
                 if name in ("EOVERFLOW", "ENOTRAM", "EPERM", "EFAULT")
                 else "")
        super().__init__("%s: %s%s" % (name, what, where))
        self.code = code
        self.name = name
        self.address = address


class Range(tuple):
    """A guest-physical range of RAM or ROM, from the hello or LAYOUT."""
    __slots__ = ()

    def __new__(cls, start, length, rom):
        return tuple.__new__(cls, (start, length, rom))

    start = property(lambda self: self[0])
    length = property(lambda self: self[1])
    rom = property(lambda self: self[2])


class MapRange(tuple):
    """A range of a MAP reply: where guest memory sits in which fd."""
    __slots__ = ()

    def __new__(cls, start, length, offset, fd_index, rom, name):
        return tuple.__new__(cls, (start, length, offset, fd_index, rom,
                                   name))

    start = property(lambda self: self[0])
    length = property(lambda self: self[1])
    offset = property(lambda self: self[2])
    fd_index = property(lambda self: self[3])
    rom = property(lambda self: self[4])
    name = property(lambda self: self[5])


def _ranges(data, count):
    out = []
    for i in range(count):
        start, length, flags, _ = _RANGE.unpack_from(data, i * _RANGE.size)
        out.append(Range(start, length, bool(flags & RANGE_ROM)))
    return out


class Client:
    """A connection to a pmemaccess server, protocol v2."""

    def __init__(self, path, timeout=None):
        """Connect and read the hello.  @timeout (seconds) bounds every
        wait for the server; None waits as long as it takes."""
        self._cookie = 0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            try:
                self.sock.connect(path)
            except OSError as e:
                raise PmemError("cannot connect to %s: %s (is pmemaccess "
                                "running?)" % (path, e.strerror)) from e
            self._send(CLIENT_MAGIC + struct.pack("<II", 2, 0))
            (magic, version, flags, self.max_payload, self.max_segments,
             self.ram_size, nr_ranges, _) = _HELLO.unpack(
                 self._recv(_HELLO.size))
            if magic != SERVER_MAGIC or version != 2:
                raise PmemError("%s: not a pmemaccess v2 server" % path)
            self.can_write = bool(flags & HELLO_WRITE)
            self.layout = _ranges(self._recv(nr_ranges * _RANGE.size),
                                  nr_ranges)
        except BaseException:
            self.sock.close()
            raise

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise PmemError("connection lost: %s" % e) from e

    def _recv(self, length):
        buf = bytearray(length)
        view = memoryview(buf)
        got = 0
        while got < length:
            try:
                n = self.sock.recv_into(view[got:])
            except OSError as e:
                raise PmemError("connection lost: %s" % e) from e
            if n == 0:
                raise PmemError("the server closed the connection")
            got += n
        return bytes(buf)

    def _request(self, rtype, flags=0, address=0, length=0, root=0):
        self._cookie += 1
        return _REQUEST.pack(REQUEST_MAGIC, rtype, flags, self._cookie,
                             address, length, root)

    def _check_reply(self, header):
        magic, error, cookie, length, address = _REPLY.unpack(header)
        if magic != REPLY_MAGIC or cookie != self._cookie:
            raise PmemError("reply out of sequence")
        if error:
            raise ServerError(error, address)
        return length

    def _reply(self):
        return self._check_reply(self._recv(_REPLY.size))

    @staticmethod
    def _space(root, la57):
        if root is None:
            return 0, 0
        return FLAG_VIRTUAL | (FLAG_LA57 if la57 else 0), root

    def read(self, address, length, root=None, la57=False):
        """Read guest memory; virtual through page-table @root if given.
        Reads over the server's max_payload take several requests."""
        flags, root = self._space(root, la57)
        parts = []
        for off in range(0, length, self.max_payload) or [0]:
            n = min(self.max_payload, length - off)
            self._send(self._request(READ, flags, address + off, n, root))
            self._reply()
            parts.append(self._recv(n))
        return b"".join(parts)

    def readv(self, segments, root=None, la57=False, paused=False):
        """Read (address, length) segments in one round trip.

        Returns a list of (status, data): data is None where status (a
        protocol error code) is not 0.  @paused serves the batch with the
        vCPUs paused: one consistent instant.
        """
        segments = list(segments)
        if len(segments) > self.max_segments:
            if paused:
                raise ValueError("a paused batch is one request: at most "
                                 "%d segments" % self.max_segments)
            return [res for i in range(0, len(segments), self.max_segments)
                    for res in self.readv(
                        segments[i:i + self.max_segments], root, la57)]
        flags, root = self._space(root, la57)
        if paused:
            flags |= FLAG_PAUSED
        payload = b"".join(_SEGMENT.pack(a, n) for a, n in segments)
        self._send(self._request(READV, flags, 0, len(segments), root) +
                   payload)
        self._reply()
        n = len(segments)
        status = struct.unpack("<%dI" % n, self._recv(4 * n))
        if n % 2:
            self._recv(4)
        return [(st, None if st else self._recv(length))
                for st, (_, length) in zip(status, segments)]

    def write(self, address, data):
        self._send(self._request(WRITE, 0, address, len(data)) +
                   bytes(data))
        self._reply()

    def generation(self):
        """The memory layout's generation (pmemmap must be offered)."""
        self._send(self._request(GENERATION))
        self._reply()
        return struct.unpack("<Q", self._recv(8))[0]

    def vmcoreinfo(self):
        """The guest kernel's vmcoreinfo (VMCOREINFO request): a dict
        with "text" (the note's KEY=value lines), "paddr", "la57", and
        those of VMCOREINFO_FIELDS the note had.  ServerError ENODATA if
        the guest has published none."""
        self._send(self._request(VMCOREINFO))
        data = self._recv(self._reply())
        (valid, text_len, paddr, kernel_offset, phys_base, swapper_pg_dir,
         init_uts_ns, root, page_size, osrelease) = _VMCOREINFO.unpack_from(
             data)
        values = (osrelease.split(b"\0")[0].decode(), page_size,
                  kernel_offset, phys_base, swapper_pg_dir, init_uts_ns,
                  root)
        info = {"paddr": paddr, "la57": bool(valid & VMCI_LA57),
                "text": data[_VMCOREINFO.size:_VMCOREINFO.size +
                             text_len].decode()}
        for bit, (name, value) in enumerate(zip(VMCOREINFO_FIELDS, values)):
            if valid & (1 << bit):
                info[name] = value
        return info

    def current_layout(self):
        """The guest-physical RAM/ROM layout now (LAYOUT request)."""
        self._send(self._request(LAYOUT))
        self._reply()
        nr_ranges = struct.unpack("<II", self._recv(8))[0]
        return _ranges(self._recv(nr_ranges * _RANGE.size), nr_ranges)

    def map(self):
        """Map guest memory as pmemmap offers it: a View."""
        self._send(self._request(MAP))
        fds = array.array("i")
        try:
            header, anc, msg_flags, _ = self.sock.recvmsg(
                _REPLY.size, socket.CMSG_SPACE(64 * fds.itemsize),
                socket.MSG_WAITALL)
        except OSError as e:
            raise PmemError("connection lost: %s" % e) from e
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
        try:
            if len(header) != _REPLY.size or msg_flags & socket.MSG_CTRUNC:
                raise PmemError("short MAP reply")
            self._check_reply(header)
            generation, nr_ranges, nr_fds, flags, _ = _MAP_HEAD.unpack(
                self._recv(_MAP_HEAD.size))
            if nr_fds != len(fds):
                raise PmemError("MAP reply announced %d fds, carried %d"
                                % (nr_fds, len(fds)))
            data = self._recv(nr_ranges * _MAP_RANGE.size)
            ranges = []
            for i in range(nr_ranges):
                start, length, offset, index, rflags, name = \
                    _MAP_RANGE.unpack_from(data, i * _MAP_RANGE.size)
                if index != MAP_NO_FD and index >= len(fds):
                    raise PmemError("MAP range names a missing fd")
                ranges.append(MapRange(
                    start, length, offset,
                    None if index == MAP_NO_FD else index,
                    bool(rflags & RANGE_ROM),
                    name.split(b"\0")[0].decode()))
            return View(list(fds), ranges, generation, flags)
        finally:
            for fd in fds:
                os.close(fd)


class View:
    """Guest memory mapped from a MAP reply.  Live unless a snapshot."""

    def __init__(self, fds, ranges, generation, flags):
        self.ranges = ranges
        self.generation = generation
        self.flags = flags
        self.writable = bool(flags & MAP_WRITABLE)
        self.snapshot = bool(flags & MAP_SNAPSHOT)
        self._maps = []             # (start, length, mmap, skew)
        prot = mmap.PROT_READ | (mmap.PROT_WRITE if self.writable else 0)
        try:
            for r in ranges:
                if r.fd_index is None:
                    continue
                skew = r.offset % mmap.ALLOCATIONGRANULARITY
                m = mmap.mmap(fds[r.fd_index], r.length + skew,
                              flags=mmap.MAP_SHARED, prot=prot,
                              offset=r.offset - skew)
                self._maps.append((r.start, r.length, m, skew))
        except BaseException:
            self.close()
            raise

    def gpa(self, address, length):
        """A memoryview of guest-physical [address, address + length),
        or None if it is not mapped in one piece."""
        for start, size, m, skew in self._maps:
            if start <= address < start + size:
                if address + length > start + size:
                    return None
                off = skew + address - start
                return memoryview(m)[off:off + length]
        return None

    def close(self):
        for _, _, m, _ in self._maps:
            try:
                m.close()
            except BufferError:
                pass                # a memoryview is still alive
        self._maps = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class GuestMemory(io.RawIOBase):
    """Guest-physical memory as a read-only file, from 0 to the end of
    the highest RAM/ROM range: seek() and read() as on a raw memory
    image.  Holes (MMIO, unassigned) read as zeros.  Backed by the
    pmemmap mapping when the server offers one, else by READ requests.
    """

    def __init__(self, client, use_map=True):
        super().__init__()
        self.client = client
        self.view = None
        if use_map:
            try:
                self.view = client.map()
            except ServerError as e:
                if e.code != ENOMAP:
                    raise
            except OSError:
                pass                # cannot map here: READ will do
        self.ranges = client.layout
        self.size = max((r.start + r.length for r in self.ranges), default=0)
        self.pos = 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=io.SEEK_SET):
        bases = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos,
                 io.SEEK_END: self.size}
        if whence not in bases:
            raise ValueError("invalid whence %r" % whence)
        base = bases[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self.pos = base + offset
        return self.pos

    def tell(self):
        return self.pos

    def _piece(self, address, length):
        """Bytes at @address, at most @length, within one range or hole."""
        for r in self.ranges:
            if r.start <= address < r.start + r.length:
                n = min(length, r.start + r.length - address,
                        self.client.max_payload)
                mv = self.view.gpa(address, n) if self.view else None
                if mv is not None:
                    return bytes(mv)
                return self.client.read(address, n)
        after = [r.start for r in self.ranges if r.start > address]
        n = min(length, (min(after) if after else self.size) - address)
        return bytes(n)

    def readinto(self, buf):
        length = min(len(buf), max(0, self.size - self.pos))
        done = 0
        while done < length:
            piece = self._piece(self.pos + done, length - done)
            buf[done:done + len(piece)] = piece
            done += len(piece)
        self.pos += done
        return done

    def close(self):
        if self.view:
            self.view.close()
        super().close()
