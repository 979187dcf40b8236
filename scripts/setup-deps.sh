#!/bin/bash
# Install the Debian 12 packages needed to fetch, build and test QEMU with
# our series.  Idempotent: does nothing when everything is installed.
# Run as root (CI and the project's machines run as root).
set -euo pipefail

packages=(
    # fetching the QEMU source from Debian's pool: curl, then dpkg-source
    # (the 10.x bases' meson comes the same way, see scripts/base-lib.sh)
    curl ca-certificates xz-utils dpkg-dev
    # QEMU 7.2 minimal build
    build-essential ninja-build meson pkg-config flex bison python3-venv
    libglib2.0-dev libpixman-1-dev libfdt-dev zlib1g-dev
    # firmware (stripped from Debian's source package)
    seabios qemu-system-data ipxe-qemu
    # tests and tools
    git perl socat python3
    # the real-guest fixture (packed with cpio; the kernel is only
    # unpacked; its BTF read with bpftool) and the end-to-end clients
    cpio bpftool telnet
    # the fuzz target: clang with libFuzzer and the sanitizers; memcheck
    clang libclang-rt-14-dev valgrind
    # the benchmarks' peer: what users have today (Debian's own QEMU)
    qemu-system-x86
    # bench/vmi-compare.py's chart
    python3-matplotlib
    # drgn on the live guest (clients/python/pmemaccess_drgn.py); the
    # guest kernel's DWARF comes with build-guest.sh, not from here
    python3-drgn
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "setup-deps: all packages present"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "setup-deps: need root to install: ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
echo "setup-deps: installing ${missing[*]}"
apt-get install -y -q --no-install-recommends "${missing[@]}"
