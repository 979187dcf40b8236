#!/bin/bash
# Build the stress load generator and run it against the patched QEMU
# with the real guest (stress/run-stress.py).
#   stress.sh [--quick] [--clients N] [--cycles C]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base-lib.sh"

"$top/scripts/build-qemu.sh" qemu-system-x86_64 >/dev/null
"$top/scripts/build-guest.sh"
mkdir -p "$build/stress"
make -s -C "$top/stress" O="$build/stress"
QEMU_BINARY="$objdir/qemu-system-x86_64" \
    exec "$top/stress/run-stress.py" --stress "$build/stress/pmemaccess-stress" "$@"
