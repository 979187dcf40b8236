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

config=()
qemu_configure_options config
cfgstamp=$objdir/.qemu-vmi-configure
if [ ! -f "$objdir/build.ninja" ] || [ "$(cat "$cfgstamp" 2>/dev/null)" != "${config[*]}" ]; then
    echo "build-qemu: configuring"
    rm -rf "$objdir"
    mkdir -p "$objdir"
    log=$bbuild/configure-${QEMU_BUILD_NAME:-build}.log
    (cd "$objdir" && ../configure "${config[@]}") > "$log" 2>&1 || {
        tail -30 "$log" >&2
        echo "build-qemu: configure failed, see $log" >&2
        exit 1
    }
    echo "${config[*]}" > "$cfgstamp"
fi

link_firmware "$objdir"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(qemu-system-x86_64)
base_say "build-qemu: ninja ${targets[*]}"
ninja -C "$objdir" "${targets[@]}"
