#!/bin/bash
# QMP read-guest-memory against xp (human-monitor-command) and
# query-status on one QMP connection, against the patched QEMU.
#   bench-qmp.sh [--quick] [--rounds N]
# --quick runs few rounds: check uses it to prove the benchmark works and
# reads the right data; its timings are not judged.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base-lib.sh"

"$top/scripts/build-qemu.sh" qemu-system-x86_64 >/dev/null
exec /usr/bin/python3 "$top/bench/qmp-read-bench.py" \
    --qemu "$objdir/qemu-system-x86_64" "$@"
