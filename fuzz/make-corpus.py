#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The qemu-vmi authors
"""Write the fuzz target's seed corpus: one file per valid conversation,
both protocol versions, every v2 request type (pmemaccess-fuzz.c: first
byte = write policy, then the client's bytes).

    make-corpus.py DIR
"""

import os
import struct
import sys

V1 = struct.Struct("<QQQ")
HELLO = b"QPMEMv2\n" + struct.pack("<II", 2, 0)
REQ = struct.Struct("<IHHQQQQ")
SEG = struct.Struct("<QQ")
MAGIC = 0x51524d50
READ, WRITE, READV, LAYOUT, MAP, GENERATION, VMCOREINFO = 1, 2, 3, 4, 5, 6, 7
VIRTUAL, LA57, PAUSED = 1, 2, 4
HIGH = 4 << 30


def req(rtype, flags=0, address=0, length=0, root=0, cookie=7):
    return REQ.pack(MAGIC, rtype, flags, cookie, address, length, root)


def readv(segments, flags=0, root=0):
    return req(READV, flags, 0, len(segments), root) + b"".join(
        SEG.pack(a, n) for a, n in segments)


SEEDS = {
    "v1-read": b"\0" + V1.pack(1, 0x1000, 8) + V1.pack(0, 0, 0),
    "v1-write": b"\1" + V1.pack(2, 0x2000, 4) + b"abcd" + V1.pack(1, 0x2000,
                                                                  4),
    "v1-mmio": b"\0" + V1.pack(1, 0xfec00000, 16),
    "v2-read": b"\0" + HELLO + req(READ, 0, 0x1000, 64),
    "v2-read-high": b"\0" + HELLO + req(READ, 0, HIGH + 0x100, 4096),
    "v2-read-rom": b"\0" + HELLO + req(READ, 0, 0xfffffff0, 16),
    "v2-write": b"\1" + HELLO + req(WRITE, 0, 0x3000, 8) + b"12345678" +
                req(READ, 0, 0x3000, 8),
    "v2-write-refused": b"\0" + HELLO + req(WRITE, 0, 0x3000, 8) + b"x" * 8,
    "v2-readv": b"\0" + HELLO + readv([(0, 8), (0xfec00000, 8),
                                       (HIGH, 16)]),
    "v2-readv-paused": b"\0" + HELLO + readv([(0x100, 8), (0x200, 8)],
                                             PAUSED),
    "v2-virtual": b"\0" + HELLO + req(READ, VIRTUAL, 0xffff800000001000,
                                      32, root=0x1000),
    "v2-virtual-la57": b"\0" + HELLO + req(READ, VIRTUAL | LA57, 0x1000, 8,
                                           root=0x2000),
    "v2-readv-virtual": b"\0" + HELLO + readv([(0x1000, 8), (0x2000, 8)],
                                              VIRTUAL, root=0x1000),
    "v2-others": b"\0" + HELLO + req(LAYOUT) + req(MAP) + req(GENERATION) +
                 req(VMCOREINFO) + req(0),
    # a paused READV whose page tables (root 0x3000) the client writes first
    "v2-write-tables": b"\1" + HELLO + req(WRITE, 0, 0x3000, 8) +
                       struct.pack("<Q", 0x3000 | 0x83) +
                       readv([(0x40000000, 8)], VIRTUAL | PAUSED, 0x3000),
}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
