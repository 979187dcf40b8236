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

# Our configuration.  Default devices stay in: QEMU's own monitor tests
# (test-hmp) start every machine with its default devices.  KVM is in,
# as users run KVM guests (--without-default-features turns it off).
config=(
    --target-list=x86_64-softmmu
    --without-default-features
    --enable-kvm
    --disable-docs
    --disable-install-blobs
    ${QEMU_EXTRA_CONFIGURE:-}
)
# 7.2 takes Debian's meson; 10.x finds the newer one on PYTHONPATH
[ "$QEMU_MESON" = backports ] || config+=(--meson=meson)
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

# Firmware: stripped from Debian's source, taken from Debian's seabios and
# qemu-system-data and ipxe-qemu (NIC option ROMs) packages.  QEMU run from
# its build tree looks here.  Only firmware: the bundle has its own
# trace-events-all, keymaps and so on, and where Debian's QEMU is installed
# (qemu-system-common) /usr/share/qemu has files of those names too.
fw=$objdir/qemu-bundle/usr/local/share/qemu
mkdir -p "$fw"
for f in /usr/share/seabios/* /usr/share/qemu/* /usr/lib/ipxe/qemu/*; do
    case $f in *.bin|*.rom|*.fd|*.img) ;; *) continue ;; esac
    [ -f "$f" ] || continue
    [ -e "$fw/$(basename "$f")" ] || [ -L "$fw/$(basename "$f")" ] ||
        ln -s "$f" "$fw/$(basename "$f")"
done

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(qemu-system-x86_64)
base_say "build-qemu: ninja ${targets[*]}"
ninja -C "$objdir" "${targets[@]}"
