#!/bin/bash
# Fetch (once), prepare (incrementally) and build the patched QEMU.
# Usage: build-qemu.sh [ninja targets...]   (default: the emulator)
# QEMU_BUILD_NAME (default "build") names the build directory in the tree
# and QEMU_EXTRA_CONFIGURE adds configure options: check-asan.sh builds a
# sanitized QEMU in build-asan next to the normal one.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
tree=$build/qemu
objdir=$tree/${QEMU_BUILD_NAME:-build}

# configure and the QAPI generators run on Debian's python3, the one meson uses
export PATH=/usr/bin:$PATH

"$top/scripts/fetch-qemu.sh"
"$top/scripts/prepare-tree.sh"

# Our configuration.  Default devices stay in: QEMU's own monitor tests
# (test-hmp) start every machine with its default devices.
config=(
    --target-list=x86_64-softmmu
    --without-default-features
    --disable-docs
    --disable-install-blobs
    --meson=meson
    ${QEMU_EXTRA_CONFIGURE:-}
)
cfgstamp=$objdir/.qemu-vmi-configure
if [ ! -f "$objdir/build.ninja" ] || [ "$(cat "$cfgstamp" 2>/dev/null)" != "${config[*]}" ]; then
    echo "build-qemu: configuring"
    rm -rf "$objdir"
    mkdir -p "$objdir"
    log=$build/configure-${QEMU_BUILD_NAME:-build}.log
    (cd "$objdir" && ../configure "${config[@]}") > "$log" 2>&1 || {
        tail -30 "$log" >&2
        echo "build-qemu: configure failed, see $log" >&2
        exit 1
    }
    echo "${config[*]}" > "$cfgstamp"
fi

# Firmware: stripped from Debian's source, taken from Debian's seabios and
# qemu-system-data and ipxe-qemu (NIC option ROMs) packages.  QEMU run from
# its build tree looks here.
fw=$objdir/qemu-bundle/usr/local/share/qemu
mkdir -p "$fw"
for f in /usr/share/seabios/* /usr/share/qemu/* /usr/lib/ipxe/qemu/*; do
    [ -f "$f" ] || continue
    [ -e "$fw/$(basename "$f")" ] || ln -s "$f" "$fw/$(basename "$f")"
done

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(qemu-system-x86_64)
ninja -C "$objdir" "${targets[@]}"
