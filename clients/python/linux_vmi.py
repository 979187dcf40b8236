# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""A running Linux guest, seen from outside through pmemaccess: no agent
in the guest, nothing asked of it.  What a VMI tool needs and how it gets
it here:

- the page-table root: vCPU 0's CR3, from QEMU's `info registers` (the
  VMM's view of the vCPU, as LibVMI's KVM driver reads it);
- the kernel's virtual base (KASLR): one READV of virtual probes, one per
  2 MiB slot of the kernel image area, compared with the first bytes of
  the kernel image's .text (linux_image.KernelImage), confirmed by the
  banner at the same slide;
- symbols and structure layouts: from the kernel image (exported symbols,
  the banner string, BTF), moved by the KASLR slide.

Every virtual read is walked by the server (pmemaccess v2 VIRTUAL flag).
"""

import re
import struct

from linux_image import KernelImage

# The kernel image area of x86-64 Linux (__START_KERNEL_map) and its size
# (KERNEL_IMAGE_SIZE with KASLR); KASLR places _text on a 2 MiB boundary.
KERNEL_MAP = 0xffffffff80000000
KERNEL_AREA = 1 << 30
KERNEL_ALIGN = 2 << 20
PROBE = 64
PROBE_STABLE = 16
PAGE_ADDR_MASK = 0x000ffffffffff000
MAX_TASKS = 1 << 16


class VmiError(Exception):
    pass


def cr3_from_registers(text):
    """The page-table root in `info registers` output (first vCPU)."""
    m = re.search(r"CR3=([0-9a-fA-F]+)", text)
    if not m:
        raise VmiError("no CR3 in `info registers` output")
    return int(m.group(1), 16) & PAGE_ADDR_MASK


class LinuxGuest:
    """Kernel structures of a running guest, read through a
    pmemaccess.Client @client, with page-table root @root."""

    def __init__(self, client, image, root):
        self.client = client
        self.image = image if isinstance(image, KernelImage) \
            else KernelImage(image)
        self.root = root
        self.text = self._find_text()
        self.slide = self.text - self.image.text

    def _find_text(self):
        # startup_64 begins with RIP-relative code that KASLR relocation
        # leaves alone (absolute addresses follow within 32 bytes); the
        # banner at the slide confirms the match.
        want = self.image.read(self.image.text, PROBE)
        probes = [(KERNEL_MAP + off, PROBE)
                  for off in range(0, KERNEL_AREA, KERNEL_ALIGN)]
        link_banner, banner = self.image.banner()
        for (addr, _), (status, data) in zip(
                probes, self.client.readv(probes, root=self.root)):
            if status or data[:PROBE_STABLE] != want[:PROBE_STABLE]:
                continue
            at = link_banner + addr - self.image.text
            status, data = self.client.readv([(at, len(banner))],
                                             root=self.root)[0]
            if status == 0 and data.decode("utf-8", "replace") == banner:
                return addr
        raise VmiError("the kernel image is mapped nowhere in %#x..%#x "
                       "under root %#x: wrong CR3, or not this kernel?"
                       % (KERNEL_MAP, KERNEL_MAP + KERNEL_AREA, self.root))

    def address(self, link_address):
        """The running kernel's address of link-time @link_address."""
        return link_address + self.slide

    def read(self, vaddr, length):
        return self.client.read(vaddr, length, root=self.root)

    def translate(self, vaddr):
        """Guest-physical address of @vaddr (4-level paging)."""
        table = self.root
        for shift in (39, 30, 21, 12):
            entry, = struct.unpack("<Q", self.client.read(
                table + ((vaddr >> shift) & 511) * 8, 8))
            if not entry & 1:
                raise VmiError("%#x is not mapped" % vaddr)
            if shift == 12 or (shift in (30, 21) and entry & 0x80):
                size = 1 << shift
                return (entry & PAGE_ADDR_MASK & ~(size - 1)) | \
                    (vaddr & (size - 1))
            table = entry & PAGE_ADDR_MASK
        raise AssertionError("unreachable")

    def banner(self):
        """(address, text) of the running kernel's linux_banner."""
        link, text = self.image.banner()
        vaddr = self.address(link)
        return vaddr, self.read(vaddr, len(text)).decode("utf-8", "replace")

    def tasks(self):
        """[(pid, comm)] of every process, in task-list order from
        init_task (pid 0), walked through task_struct.tasks."""
        off = self.image.offsets("task_struct", "tasks", "pid", "comm")
        head = self.address(self.image.symbol("init_task")) + off["tasks"]
        found, node, seen = [], head, set()
        while True:
            task = node - off["tasks"]
            (_, nxt), (_, pid), (_, comm) = self.client.readv(
                [(node, 8), (task + off["pid"], 4),
                 (task + off["comm"], 16)], root=self.root)
            if nxt is None or pid is None or comm is None:
                raise VmiError("task at %#x cannot be read" % task)
            found.append((struct.unpack("<i", pid)[0],
                          comm.split(b"\0")[0].decode("utf-8", "replace")))
            seen.add(node)
            node, = struct.unpack("<Q", nxt)
            if node == head:
                return found
            if node in seen or len(found) > MAX_TASKS:
                raise VmiError("the task list loops without reaching "
                               "init_task: read during an update?")
