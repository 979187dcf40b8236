#!/bin/bash
# Fetch (once), prepare (incrementally) and build the patched QEMU of
# $BASE (default: the newest) in build/$BASE/qemu/build.
# Usage: build-qemu.sh [ninja targets...]   (default: the emulator)
# QEMU_BUILD_NAME (default "build") names the build directory in the tree
# and QEMU_EXTRA_CONFIGURE adds configure options: check-asan.sh builds a
# sanitized QEMU in build-asan next to the normal one.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base-lib.sh"

"$top/scripts/fetch-qemu.sh"
"$top/scripts/prepare-tree.sh"

if ! qemu_configured "$objdir"; then
    echo "build-qemu: configuring"
    log=$bbuild/configure-${QEMU_BUILD_NAME:-build}.log
    qemu_configure "$objdir" "$log" ||
        { echo "build-qemu: configure failed, see $log" >&2; exit 1; }
fi

link_firmware "$objdir"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(qemu-system-x86_64)
base_say "build-qemu: ninja ${targets[*]}"
ninja -C "$objdir" "${targets[@]}"
