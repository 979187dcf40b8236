#!/bin/bash
# One drgn script on the real guest's live kernel, its memory read four
# ways (pmemmap, pmemaccess READ, QMP read-guest-memory, HMP xp), timed
# side by side, every result compared: bench/drgn-compare.py.
#   bench-drgn.sh [--quick]
# --quick runs the script on a few tasks: check uses it to prove that
# every way reads right; its timings are not judged.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base-lib.sh"

"$top/scripts/build-qemu.sh" qemu-system-x86_64 >/dev/null
"$top/scripts/build-guest.sh" >/dev/null
exec /usr/bin/python3 "$top/bench/drgn-compare.py" \
    --qemu "$objdir/qemu-system-x86_64" "$@"
