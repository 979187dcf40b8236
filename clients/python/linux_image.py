# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""What a VMI tool learns about a Linux kernel from its image alone,
without asking the running guest anything:

- the ELF kernel inside a bzImage (vmlinuz): extract_vmlinux();
- link-time addresses: of exported symbols, from the kernel's own
  __ksymtab (what modules link against); of linux_banner, from the
  banner string in .rodata; of _text, from the ELF;
- structure layouts from the kernel's BTF (CONFIG_DEBUG_INFO_BTF), read
  with Debian's bpftool: no hand-typed offsets.

    python3 linux_image.py extract VMLINUZ VMLINUX
    python3 linux_image.py info VMLINUX
"""

import lzma
import re
import struct
import subprocess
import sys
import zlib

ELF_MAGIC = b"\x7fELF"
SHT_NOBITS = 8
KSYMTAB_ENTRY = struct.Struct("<iii")   # PREL32: value, name, namespace


class ImageError(Exception):
    pass


def extract_vmlinux(bzimage):
    """The ELF kernel inside bzImage bytes (xz or gzip payload)."""
    for magic, new in ((b"\xfd7zXZ\x00", lzma.LZMADecompressor),
                       (b"\x1f\x8b\x08", lambda: zlib.decompressobj(31))):
        start = bzimage.find(magic)
        while start >= 0:
            try:
                elf = new().decompress(bzimage[start:])
            except (lzma.LZMAError, zlib.error):
                elf = b""
            if elf.startswith(ELF_MAGIC):
                return elf
            start = bzimage.find(magic, start + 1)
    raise ImageError("no xz or gzip compressed ELF kernel in the image")


class KernelImage:
    """An uncompressed vmlinux (ELF64, x86-64)."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.data = f.read()
        if self.data[:4] != ELF_MAGIC or self.data[4] != 2:
            raise ImageError("%s is not an ELF64 kernel" % path)
        self.sections = self._sections()
        self._ksyms = None
        self._btf = None

    def _sections(self):
        shoff, = struct.unpack_from("<Q", self.data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", self.data,
                                                        0x3a)
        raw = [struct.unpack_from("<IIQQQQ", self.data, shoff + i * shentsize)
               for i in range(shnum)]
        names = raw[shstrndx][4]
        sections = {}
        for name, kind, _, addr, offset, size in raw:
            sections[self._cstr(names + name)] = (addr, offset, size, kind)
        return sections

    def _cstr(self, offset):
        return self.data[offset:self.data.index(b"\0", offset)].decode()

    def section(self, name):
        """(address, file offset, size) of section @name."""
        try:
            addr, offset, size, _ = self.sections[name]
        except KeyError:
            raise ImageError("the kernel has no %s section" % name) from None
        return addr, offset, size

    def file_offset(self, address):
        for addr, offset, size, kind in self.sections.values():
            if addr and kind != SHT_NOBITS and addr <= address < addr + size:
                return offset + address - addr
        raise ImageError("%#x is in no section of the image" % address)

    def read(self, address, length):
        """Bytes of the image at link-time @address."""
        offset = self.file_offset(address)
        return self.data[offset:offset + length]

    @property
    def text(self):
        """Link-time address of _text (the start of .text)."""
        return self.section(".text")[0]

    def exported_symbols(self):
        """{name: link-time address} from __ksymtab and __ksymtab_gpl."""
        if self._ksyms is None:
            self._ksyms = {}
            for name in ("__ksymtab", "__ksymtab_gpl"):
                addr, offset, size = self.section(name)
                for i in range(0, size, KSYMTAB_ENTRY.size):
                    value, sym, _ = KSYMTAB_ENTRY.unpack_from(self.data,
                                                              offset + i)
                    name_at = self.file_offset(addr + i + 4 + sym)
                    self._ksyms[self._cstr(name_at)] = addr + i + value
        return self._ksyms

    def symbol(self, name):
        try:
            return self.exported_symbols()[name]
        except KeyError:
            raise ImageError("%s is not an exported symbol" % name) from None

    def banner(self):
        """(link-time address, text) of linux_banner: the last
        NUL-terminated "Linux version ..." string in .rodata.  Since
        Linux 6.1 init/version.o holds a __weak copy and the final link
        adds init/version-timestamp.o, whose linux_banner is the one the
        kernel uses, after everything else; older kernels have one."""
        addr, offset, size = self.section(".rodata")
        rodata = self.data[offset:offset + size]
        at = rodata.rfind(b"\0Linux version ") + 1
        if at <= 0:
            raise ImageError("no Linux banner in .rodata")
        return addr + at, rodata[at:rodata.index(b"\0", at)].decode()

    def _btf_dump(self):
        if self._btf is None:
            try:
                out = subprocess.run(
                    ["bpftool", "btf", "dump", "file", self.path,
                     "format", "raw"], check=True, capture_output=True,
                    text=True).stdout
            except FileNotFoundError:
                raise ImageError("bpftool is missing (apt-get install "
                                 "bpftool)") from None
            except subprocess.CalledProcessError as e:
                raise ImageError("bpftool: %s" % e.stderr.strip()) from None
            types = {}
            current = None
            for line in out.split("\n"):
                if line.startswith("["):
                    m = re.match(r"\[(\d+)\] (\w+) '([^']*)'(.*)", line)
                    current = [m.group(2), m.group(3), m.group(4), []]
                    types[int(m.group(1))] = current
                elif line.startswith("\t'") and current:
                    m = re.match(r"\t'([^']*)' type_id=(\d+)"
                                 r"(?: bits_offset=(\d+))?", line)
                    if m:
                        current[3].append((m.group(1), int(m.group(2)),
                                           int(m.group(3) or 0)))
            self._btf = types
        return self._btf

    def _member_offset(self, type_id, member):
        """Byte offset of @member in struct/union @type_id, looking into
        anonymous members; None if absent."""
        _, _, _, members = self._btf_dump()[type_id]
        for name, tid, bits in members:
            if name == member:
                return bits // 8
            if name == "(anon)":
                inner = self._member_offset(tid, member)
                if inner is not None:
                    return bits // 8 + inner
        return None

    def offsets(self, struct_name, *members):
        """{member: byte offset} in struct @struct_name, from BTF."""
        for tid, (kind, name, _, _) in self._btf_dump().items():
            if kind == "STRUCT" and name == struct_name:
                break
        else:
            raise ImageError("no struct %s in the kernel's BTF" % struct_name)
        found = {}
        for member in members:
            off = self._member_offset(tid, member)
            if off is None:
                raise ImageError("struct %s has no member %s"
                                 % (struct_name, member))
            found[member] = off
        return found


def main(argv):
    if len(argv) == 4 and argv[1] == "extract":
        with open(argv[2], "rb") as f:
            elf = extract_vmlinux(f.read())
        with open(argv[3], "wb") as f:
            f.write(elf)
        return 0
    if len(argv) == 3 and argv[1] == "info":
        image = KernelImage(argv[2])
        banner_at, banner = image.banner()
        print("_text         %#x" % image.text)
        print("linux_banner  %#x  %s" % (banner_at, banner.strip()))
        print("init_task     %#x" % image.symbol("init_task"))
        print("task_struct   %s" % image.offsets("task_struct", "tasks",
                                                  "pid", "comm"))
        return 0
    print(__doc__.strip().split("\n\n")[-1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (ImageError, OSError) as e:
        print("linux_image: %s" % e, file=sys.stderr)
        sys.exit(1)
