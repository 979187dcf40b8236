#!/bin/bash
# Every way to read a guest's memory, side by side, in one run: xp,
# pmemsave, gdbstub, process_vm_readv, pmemaccess v1/v2/READV/virtual and
# pmemmap, against a bare UNIX socket and memcpy, idle and on a busy guest.
#   compare.sh [--quick] [--out DIR]
# Prints the tables; writes build/$BASE/compare/compare.md and compare.png.
# --quick runs few repetitions: it proves the program works and reads the
# right data; its timings mean little.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base-lib.sh"
cd "$top"

scripts/build-qemu.sh qemu-system-x86_64 >/dev/null
/usr/bin/python3 bench/vmi-compare.py --qemu "$objdir/qemu-system-x86_64" \
    --out "$bbuild/compare" "$@"
