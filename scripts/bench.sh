#!/bin/bash
# Build and run the benchmarks against the patched QEMU.
#   bench.sh [--quick]
# --quick runs few iterations: check uses it to prove the benchmark works
# and reads the right data; its timings mean little.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base-lib.sh"

"$top/scripts/build-qemu.sh" qemu-system-x86_64 >/dev/null
mkdir -p "$build/bench"
make -s -C "$top/bench" O="$build/bench"
"$build/bench/pmemaccess-bench" --qemu "$objdir/qemu-system-x86_64" "$@"
